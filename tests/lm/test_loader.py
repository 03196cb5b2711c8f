"""The one local Hugging Face loader (:func:`collapselab.lm.load_causal_lm` / ``load_tokenizer``): every public
path that loads a checkpoint refuses a pickle-only folder with :class:`LMInputError` (one line), reads only
safetensors, and wraps unreadable weights in the same error."""

import ast
import json
import sys
from pathlib import Path

import pytest
import torch

from collapselab.core.params import ParamError, resolve_params
from collapselab.core.registry import get_experiment
from collapselab.lm import (
    LMInputError,
    check_model_dir,
    load_causal_lm,
    load_tokenizer,
    model_factory,
    save_causal_lm,
    small_gpt2,
    train_tokenizer,
)
from collapselab.verification import HFSummarizer

SRC = Path(__file__).resolve().parents[2] / "src" / "collapselab"
MODEL_EXPERIMENTS = ["tale-of-tails/lm-generations", "strong-collapse/lm-scaling", "beyond-collapse/lm-verification",
                     "beyond-collapse/summarization"]


@pytest.fixture
def pickled(tmp_path) -> Path:
    """A folder with a config and pickle weights only (the bytes are never unpickled: the folder is refused)."""
    d = tmp_path / "pickled"
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    (d / "pytorch_model.bin").write_bytes(b"\x80\x04pickle")
    return d


@pytest.fixture
def saved(tmp_path):
    tok = train_tokenizer([f"the cat {i} sat on the mat" for i in range(20)], vocab_size=260)
    model = small_gpt2(len(tok), n_layer=1, n_embd=16, n_head=2, n_positions=16,
                       generator=torch.Generator().manual_seed(0))
    return model, save_causal_lm(model, tok, tmp_path / "tiny")


def _refusal(path: Path) -> str:
    with pytest.raises(LMInputError) as e:
        check_model_dir(path)
    return str(e.value)


def test_pickle_only_folder_is_refused_by_every_public_loading_path(pickled):
    message = _refusal(pickled)
    assert "only pickle weights (pytorch_model.bin)" in message and "\n" not in message
    loaders = {
        "lm.load_causal_lm": lambda: load_causal_lm(pickled),
        "lm.load_tokenizer": lambda: load_tokenizer(pickled),
        "lm.model_factory": lambda: model_factory(pickled, vocab_size=260, size={}, n_positions=16)(
            torch.Generator().manual_seed(0)),
        "verification.HFSummarizer": lambda: HFSummarizer(str(pickled)),
    }
    for name, load in loaders.items():
        with pytest.raises(LMInputError) as e:
            load()
        assert str(e.value) == message, name


@pytest.mark.parametrize("name", MODEL_EXPERIMENTS)
def test_pickle_only_folder_is_refused_by_the_experiments_model_parameter(name, pickled):
    exp = get_experiment(name)
    with pytest.raises(ParamError) as e:
        resolve_params(exp.params, exp.presets, "smoke", [f"model={pickled}"])
    assert _refusal(pickled) in str(e.value)


def test_pickle_weights_beside_safetensors_are_never_read(saved):
    model, folder = saved
    (folder / "pytorch_model.bin").write_bytes(b"\x80\x04not a checkpoint")  # unreadable if it were opened
    loaded, tok = load_causal_lm(folder)
    assert all(torch.equal(p, q) for p, q in zip(loaded.parameters(), model.parameters()))
    assert not loaded.training and tok.pad_token_id is not None


def test_dtype_is_float32_unless_asked(saved):
    _, folder = saved
    assert next(load_causal_lm(folder)[0].parameters()).dtype == torch.float32
    assert next(load_causal_lm(folder, dtype="bfloat16")[0].parameters()).dtype == torch.bfloat16
    with pytest.raises(ValueError, match="dtype"):
        load_causal_lm(folder, dtype="auto")


def test_unreadable_safetensors_is_one_line_lm_input_error(saved):
    _, folder = saved
    (folder / "model.safetensors").write_bytes(b"garbage" * 10)
    with pytest.raises(LMInputError, match="no usable causal LM") as e:
        load_causal_lm(folder)
    assert "\n" not in str(e.value) and str(folder) in str(e.value)


def test_missing_transformers_is_an_import_error_naming_it(tmp_path, monkeypatch):
    d = tmp_path / "m"
    d.mkdir()
    (d / "config.json").write_text("{}")
    (d / "model.safetensors").write_bytes(b"")
    monkeypatch.setitem(sys.modules, "transformers", None)  # as if not installed
    with pytest.raises(ImportError, match="transformers"):
        load_causal_lm(d)


def _from_pretrained_calls() -> list[tuple[str, str]]:
    """(module, object) of every ``X.from_pretrained(...)`` call in src/."""
    calls = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    node.func.attr == "from_pretrained":
                calls.append((str(path.relative_to(SRC)), ast.unparse(node.func.value).split(".")[-1]))
    return sorted(calls)


def test_one_loader_per_object_kind():
    assert _from_pretrained_calls() == [("lm/model.py", "AutoModelForCausalLM"), ("lm/model.py", "AutoTokenizer")]
    model_call = next(n for n in ast.walk(ast.parse((SRC / "lm/model.py").read_text()))
                      if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                      and n.func.attr == "from_pretrained" and "AutoModel" in ast.unparse(n.func.value))
    kw = {k.arg: ast.unparse(k.value) for k in model_call.keywords}
    assert kw["use_safetensors"] == "True" and kw["local_files_only"] == "True"
