"""The Hugging Face path end to end: a tiny GPT-2 built from a config, trained, saved as safetensors to a
temp folder and reloaded from that local path with AutoModelForCausalLM / AutoTokenizer."""

import json

import pytest
import torch

from collapselab.lm import (
    LMInputError,
    check_model_dir,
    evaluate_lm,
    load_causal_lm,
    prepare_text,
    save_causal_lm,
    small_gpt2,
    train_causal_lm,
    train_tokenizer,
)

TEXT = [f"The {w} sat on the mat and the {v} ran to the gate, number {i}." for i, (w, v) in
        enumerate(zip(["cat", "dog", "fox", "owl"] * 30, ["hen", "cow", "pig", "ram"] * 30))]


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def test_tokenizer_is_byte_level_and_deterministic():
    a, b = train_tokenizer(TEXT, vocab_size=300), train_tokenizer(TEXT, vocab_size=300)
    ids = a("The cat sat on the mat. Ünïcode ☃")["input_ids"]
    assert ids == b("The cat sat on the mat. Ünïcode ☃")["input_ids"]
    assert a.decode(ids) == "The cat sat on the mat. Ünïcode ☃"
    assert a.eos_token_id == 0 and a.pad_token_id == 0 and len(a) <= 300


def test_init_is_reproducible_from_the_generator():
    m1, m2 = small_gpt2(300, n_layer=1, n_embd=16, n_head=2, n_positions=32, generator=_gen(1)), \
        small_gpt2(300, n_layer=1, n_embd=16, n_head=2, n_positions=32, generator=_gen(1))
    assert all(torch.equal(p, q) for p, q in zip(m1.parameters(), m2.parameters()))
    w = m1.transformer.h[0].mlp.c_fc.weight
    assert abs(float(w.detach().std()) - 0.02) < 0.004


def test_hf_end_to_end_save_reload_from_local_folder(tmp_path):
    data = prepare_text(TEXT, block_size=16, n_train=40, n_val=2, n_test=8, vocab_size=300, rng=0)
    model = small_gpt2(data.vocab_size, n_layer=1, n_embd=32, n_head=2, n_positions=16, generator=_gen(0))
    before = evaluate_lm(model, data)["loss"]
    train_causal_lm(model, data.splits.train, steps=30, batch_size=8, lr=3e-3, generator=_gen(1))
    after = evaluate_lm(model, data)
    assert after["loss"] < before - 1.0 and len(after["bin_loss"]) == 4
    folder = save_causal_lm(model, data.tokenizer, tmp_path / "tiny")
    assert (folder / "model.safetensors").is_file() and not (folder / "pytorch_model.bin").exists()
    loaded, tok = load_causal_lm(folder)
    x = data.splits.test
    assert torch.allclose(loaded(input_ids=x).logits, model(input_ids=x).logits, atol=1e-5)
    assert tok("the cat")["input_ids"] == data.tokenizer("the cat")["input_ids"]
    again = prepare_text(TEXT, tokenizer=tok, block_size=16, n_train=40, n_val=2, n_test=8, rng=0)
    assert torch.equal(again.splits.test, data.splits.test)


def test_bad_model_paths_raise_one_line_errors_naming_the_file(tmp_path):
    with pytest.raises(LMInputError, match="'gpt2' is not a local model folder.*nothing is downloaded"):
        check_model_dir("gpt2")
    with pytest.raises(LMInputError, match="missing.*not a local model folder"):
        check_model_dir(tmp_path / "missing")
    d = tmp_path / "ckpt"
    d.mkdir()
    with pytest.raises(LMInputError, match="no config.json"):
        check_model_dir(d)
    (d / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    (d / "pytorch_model.bin").write_bytes(b"\x80\x04pickle")
    with pytest.raises(LMInputError, match=r"only pickle weights \(pytorch_model.bin\)") as e:
        load_causal_lm(d)
    assert "\n" not in str(e.value)
    (d / "pytorch_model.bin").unlink()
    with pytest.raises(LMInputError, match="no \\*.safetensors"):
        check_model_dir(d)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_train_and_sample_on_cuda():
    from collapselab.lm import sample_continuations

    data = prepare_text(TEXT, block_size=16, n_train=40, n_val=2, n_test=8, vocab_size=300, rng=0)
    g = torch.Generator(device="cuda").manual_seed(0)
    model = small_gpt2(data.vocab_size, n_layer=1, n_embd=32, n_head=2, n_positions=16, generator=g, device="cuda")
    losses = train_causal_lm(model, data.splits.train, steps=20, batch_size=8, generator=g, device="cuda").losses
    assert losses[-1] < losses[0]
    out = sample_continuations(model, data.splits.test[:, :4], max_new_tokens=8, generator=g, device="cuda")
    assert out.shape == (8, 12) and out.device.type == "cpu"
    assert evaluate_lm(model, data, device="cuda")["loss"] < 6
