"""A user's own checkpoint and corpus: bad inputs end the CLI with one line and exit 2, before any cell runs;
a tiny config-built checkpoint saved as safetensors runs an experiment from its local path."""

import json

import pytest
import torch

from collapselab.lm import save_causal_lm, small_gpt2, train_tokenizer

EXP = "tale-of-tails/lm-generations"
TEXTS = [f"Line {i}: the {w} and the {v} walked to town on day {i % 7}." for i, (w, v) in
         enumerate(zip(["cat", "dog", "fox", "owl", "hen"] * 120, ["cow", "pig", "ram", "elk"] * 150))]


def run_main(capsys, *args: str) -> tuple[int, str]:
    from collapselab.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    return exit_.value.code, capsys.readouterr().err


def _bad_inputs(tmp_path):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9\n".encode("latin-1"))
    small = tmp_path / "small.txt"
    small.write_text("only a few words here\n")
    pickled = tmp_path / "ckpt"
    pickled.mkdir()
    (pickled / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    (pickled / "pytorch_model.bin").write_bytes(b"pickle")
    return [([f"corpus={tmp_path / 'missing.txt'}"], "missing.txt' does not exist"),
            ([f"corpus={bad}"], "latin1.txt' is not UTF-8"),
            ([f"corpus={small}"], "small.txt' is too small for the split"),
            ([f"model={pickled}"], "pytorch_model.bin"),
            (["model=gpt2"], "'gpt2' is not a local model folder")]


def test_bad_user_inputs_exit_2_with_one_line(tmp_path, capsys):
    for sets, needle in _bad_inputs(tmp_path):
        code, err = run_main(capsys, "run", EXP, "--preset", "smoke", "--out", str(tmp_path / "res"),
                             *[a for s in sets for a in ("--set", s)])
        assert code == 2 and needle in err and err.count("\n") == 1, (sets, err)


@pytest.mark.slow
def test_experiment_runs_on_a_local_safetensors_checkpoint_and_corpus(tmp_path):
    from collapselab.core.runner import run_experiment

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(TEXTS))
    tok = train_tokenizer(TEXTS, vocab_size=300)
    model = small_gpt2(len(tok), n_layer=1, n_embd=16, n_head=2, n_positions=64,
                       generator=torch.Generator().manual_seed(0))
    folder = save_causal_lm(model, tok, tmp_path / "ckpt")
    rep = run_experiment(EXP, preset="smoke", out_dir=tmp_path / "res",
                         overrides=[f"model={folder}", f"corpus={corpus}"])
    assert not rep.failures
    assert rep.params.model == str(folder)


@pytest.mark.parametrize("name", ["strong-collapse/lm-scaling", "tale-of-tails/lm-generations",
                                  "beyond-collapse/lm-verification"])
def test_cell_cost_and_flops_grow_from_smoke_to_quick_to_full(name):
    from collapselab.core import get_experiment, resolve_params

    exp = get_experiment(name)
    per = {}
    for preset in ("smoke", "quick", "full"):
        (cell,) = exp.cells(resolve_params(exp.params, exp.presets, preset))
        per[preset] = (exp.cell_cost(cell), exp.cell_flops(cell))
    costs, flops = zip(*per.values())
    assert all(c > 2.0 for c in costs) and list(costs) == sorted(costs) and list(flops) == sorted(flops)
    assert costs[2] > 100 * costs[1] and flops[2] > 100 * flops[1]  # full: 6 layers x 384 wide, 256 tokens


def test_forward_flops_counts_the_matrix_products_and_attention():
    from collapselab.experiments._lm import forward_flops

    cell = {"n_embd": 64, "n_layer": 2, "vocab_size": 512, "block_size": 64}
    assert forward_flops(cell) == 2 * (12 * 2 * 64 ** 2 + 64 * 512) + 4 * 2 * 64 * 64
    assert forward_flops(cell, 32, n_embd=32) == 2 * (12 * 2 * 32 ** 2 + 32 * 512) + 4 * 2 * 32 * 32
