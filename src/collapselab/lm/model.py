"""Causal language models: a small GPT-2 built from a config (CPU default) and Hugging Face checkpoints
loaded from a local folder (``local_files_only``, safetensors only), plus a tokenizer made offline.

:func:`load_causal_lm` / :func:`load_tokenizer` are the package's one Hugging Face loader (every caller,
:mod:`collapselab.verification` included, goes through them): nothing is downloaded, pickle weights are
refused (unpickling runs code), and every unusable folder is one :class:`LMInputError` with a one-line
message naming it. ``transformers`` is imported lazily (:func:`_transformers`), so ``import
collapselab.lm`` costs nothing until a model is built.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError

from collapselab._validation import check_int
from collapselab.lm._errors import LMInputError

EOS = "<|endoftext|>"
_PICKLE_WEIGHTS = ("pytorch_model.bin", "pytorch_model.bin.index.json", "tf_model.h5", "flax_model.msgpack",
                   "model.ckpt.index")


def _transformers():
    """The ``transformers`` module, imported on first use, with its console logging and progress bars off."""
    try:
        import transformers
    except ImportError as exc:  # pragma: no cover - the package is a dependency
        raise ImportError("collapselab.lm needs the `transformers` package (pip install transformers)") from exc
    transformers.logging.set_verbosity_error()  # no console chatter from library calls
    transformers.logging.disable_progress_bar()
    return transformers


def _first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type when the message is empty)."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def train_tokenizer(texts: Sequence[str], *, vocab_size: int = 1024):
    """A byte-level BPE tokenizer (GPT-2's scheme) learned from ``texts``, offline, as a
    ``PreTrainedTokenizerFast`` with EOS = pad = ``<|endoftext|>`` (id 0).

    Byte-level: every string encodes (no unknown token); ``vocab_size`` counts the 256 bytes, EOS and
    the learned merges. Deterministic for the same texts and vocab_size.
    """
    vocab_size = check_int("vocab_size", vocab_size, low=258)
    if not texts:
        raise ValueError("`texts` must be non-empty")
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tf = _transformers()
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOS], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(list(texts), trainer=trainer)
    return tf.PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, bos_token=EOS, pad_token=EOS)


def init_gpt2_(model: torch.nn.Module, generator: torch.Generator) -> torch.nn.Module:
    """GPT-2's initialisation, drawn from ``generator`` (in place): weights of linear / Conv1D /
    embedding layers ~ N(0, 0.02^2), the residual output projections ``c_proj`` ~ N(0, (0.02 /
    sqrt(2 n_layer))^2) (Radford et al. 2019), biases 0, LayerNorm gains 1. Returns the model."""
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"`generator` must be a torch.Generator, got {type(generator).__name__}")
    n_layer = int(getattr(model.config, "n_layer", 1))
    with torch.no_grad():
        for name, p in model.named_parameters():  # tied lm_head shares wte: drawn once
            if name.endswith("bias"):
                p.zero_()
            elif ".ln_" in name or name.startswith("transformer.ln_f") or p.ndim == 1:
                p.fill_(1.0)
            else:
                std = 0.02 / math.sqrt(2 * n_layer) if name.endswith("c_proj.weight") else 0.02
                p.copy_(torch.randn(p.shape, generator=generator, device=generator.device).to(p) * std)
    return model


def small_gpt2(vocab_size: int, *, n_layer: int = 2, n_embd: int = 64, n_head: int = 4, n_positions: int = 128,
               dropout: float = 0.0, generator: torch.Generator, device: str | torch.device = "cpu"):
    """A GPT-2 (``GPT2LMHeadModel``, tied embeddings) of the given size, randomly initialised from
    ``generator`` by :func:`init_gpt2_`, on ``device``. EOS id 0 (as :func:`train_tokenizer` makes it)."""
    for name, v in (("vocab_size", vocab_size), ("n_layer", n_layer), ("n_embd", n_embd), ("n_head", n_head),
                    ("n_positions", n_positions)):
        check_int(name, v, low=1)
    if n_embd % n_head:
        raise ValueError(f"`n_embd` ({n_embd}) must be a multiple of `n_head` ({n_head})")
    tf = _transformers()
    cfg = tf.GPT2Config(vocab_size=vocab_size, n_positions=n_positions, n_embd=n_embd, n_layer=n_layer,
                        n_head=n_head, resid_pdrop=dropout, embd_pdrop=dropout, attn_pdrop=dropout,
                        bos_token_id=0, eos_token_id=0, pad_token_id=0)
    model = tf.GPT2LMHeadModel(cfg)
    init_gpt2_(model, generator)
    return model.to(device)


def check_model_dir(path: str | Path) -> Path:
    """The local Hugging Face folder ``path``, checked: it exists, holds ``config.json`` and weights as
    ``*.safetensors``. Raises :class:`LMInputError` naming the path otherwise (a hub id such as
    ``gpt2`` is refused: nothing is downloaded)."""
    p = Path(path).expanduser()
    if not p.is_dir():
        hint = " (a hub id? give a local folder: nothing is downloaded)" if "/" not in str(path) or \
            not p.parent.exists() else ""
        raise LMInputError(f"model {str(path)!r} is not a local model folder{hint}")
    if not (p / "config.json").is_file():
        raise LMInputError(f"model folder {str(p)!r} has no config.json")
    if not any(p.glob("*.safetensors")):
        pickled = [n for n in _PICKLE_WEIGHTS if (p / n).exists()] + sorted(x.name for x in p.glob("*.bin"))
        if pickled:
            raise LMInputError(f"model folder {str(p)!r} holds only pickle weights ({pickled[0]}); convert them to "
                               "safetensors (refused: unpickling runs code)")
        raise LMInputError(f"model folder {str(p)!r} holds no *.safetensors weights")
    return p


def load_tokenizer(path: str | Path):
    """The tokenizer of the local folder ``path`` (``AutoTokenizer``, ``local_files_only``); a tokenizer
    without a pad token reuses EOS. Raises :class:`LMInputError` naming the folder when there is none."""
    p = check_model_dir(path)
    tf = _transformers()
    try:
        tok = tf.AutoTokenizer.from_pretrained(p, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise LMInputError(f"model folder {str(p)!r}: no usable tokenizer ({_first_line(exc)})") from None
    if tok.eos_token_id is None:
        raise LMInputError(f"model folder {str(p)!r}: the tokenizer has no EOS token")
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_causal_lm(path: str | Path, *, device: str | torch.device = "cpu", dtype: str | None = None
                   ) -> tuple[Any, Any]:
    """(model, tokenizer) from the local folder ``path`` with ``AutoModelForCausalLM`` / ``AutoTokenizer``,
    ``local_files_only=True`` and ``use_safetensors=True``; the model in eval mode on ``device``.

    dtype: None or "float32" (float32 whatever the checkpoint stores), "bfloat16" or "float16". A
    tokenizer without a pad token reuses EOS. A missing folder, a hub id, a folder without config.json
    or safetensors weights (pickle-only included), or weights transformers cannot read raise
    :class:`LMInputError` (one line naming the folder).
    """
    if dtype not in (None, "float32", "bfloat16", "float16"):
        raise ValueError(f"`dtype` must be None, 'float32', 'bfloat16' or 'float16', got {dtype!r}")
    tok = load_tokenizer(path)
    p = check_model_dir(path)
    try:
        model = _transformers().AutoModelForCausalLM.from_pretrained(
            p, local_files_only=True, use_safetensors=True, dtype=getattr(torch, dtype or "float32"))
    except (OSError, ValueError, SafetensorError) as exc:  # unreadable config or weights
        raise LMInputError(f"model folder {str(p)!r}: no usable causal LM ({_first_line(exc)})") from None
    return model.to(device).eval(), tok


def save_causal_lm(model, tokenizer, path: str | Path) -> Path:
    """Write ``model`` (safetensors) and ``tokenizer`` to the folder ``path`` (created); returns it."""
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(p, safe_serialization=True)
    tokenizer.save_pretrained(p)
    return p
