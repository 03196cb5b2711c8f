"""The matrix-eigenvalue task of Feng et al. Sec. 5 (after Charton's LAWT) [V: notes A.4].

Symmetric dim x dim matrices M = triu(A) + triu(A, 1)', A uniform on [-max_coeff, max_coeff];
the target is the eigenvalues sorted in descending order. Reals are tokenised as sign, a 3-digit
mantissa and an exponent (LAWT's P1000: the mantissa is one base-1000 token; or three digit tokens),
value = sign * m * 10^e with 100 <= m <= 999 (m < 100 only at the smallest exponent). The prompt is
the upper triangle (diagonal included, row-major: dim (dim + 1) / 2 reals) followed by a separator;
the answer is the dim eigenvalues. A prediction is correct when the relative L1 error
sum |pred - true| / sum |true| is below the tolerance (5%, LAWT's ``float_tolerance``).
"""

from __future__ import annotations

import numpy as np
import torch

from collapselab._rng import SeedLike, as_rng, as_torch_generator
from collapselab._validation import check_array, check_choice, check_int, check_real

SEP, PLUS, MINUS = 0, 1, 2


class FloatCodec:
    """Sign / 3-digit mantissa / exponent tokens for reals (vocabulary ids start at 3).

    mantissa="base1000": 3 tokens per real (sign, m in 0..999 as one token, exponent), as LAWT's P1000;
    mantissa="digits": 5 tokens per real (sign, three digit tokens, exponent).
    Exponents are clipped to [e_min, e_max].
    """

    def __init__(self, mantissa: str = "base1000", e_min: int = -6, e_max: int = 2):
        self.mantissa = check_choice("mantissa", mantissa, ("base1000", "digits"))
        self.e_min = check_int("e_min", e_min)
        self.e_max = check_int("e_max", e_max, low=self.e_min)
        self.n_mant = 1000 if mantissa == "base1000" else 10
        self.mant_offset = 3
        self.exp_offset = 3 + self.n_mant
        self.vocab_size = self.exp_offset + (self.e_max - self.e_min + 1)
        self.tokens_per_number = 3 if mantissa == "base1000" else 5

    def encode(self, values) -> np.ndarray:
        """values (...,) -> tokens (..., tokens_per_number) int64."""
        v = np.asarray(values, dtype=np.float64)
        a = np.abs(v)
        e = np.floor(np.log10(np.maximum(a, 1e-300))).astype(np.int64) - 2
        e = np.clip(e, self.e_min, self.e_max)
        m = np.round(a / 10.0 ** e).astype(np.int64)
        carry = (m > 999) & (e < self.e_max)  # 999.7 rounds to 1000: move to the next exponent
        e = np.where(carry, e + 1, e)
        m = np.clip(np.where(carry, np.round(a / 10.0 ** e).astype(np.int64), m), 0, 999)
        sign = np.where(v < 0, MINUS, PLUS)
        if self.mantissa == "base1000":
            mant = [self.mant_offset + m]
        else:
            mant = [self.mant_offset + m // 100, self.mant_offset + (m // 10) % 10, self.mant_offset + m % 10]
        return np.stack([sign, *mant, self.exp_offset + (e - self.e_min)], axis=-1)

    def decode(self, tokens) -> np.ndarray:
        """tokens (..., tokens_per_number) -> values (...,); malformed groups decode to NaN."""
        t = np.asarray(tokens, dtype=np.int64)
        if t.shape[-1] != self.tokens_per_number:
            raise ValueError(f"`tokens` last axis must be {self.tokens_per_number}, got {t.shape[-1]}")
        sign_ok = (t[..., 0] == PLUS) | (t[..., 0] == MINUS)
        mant = t[..., 1:-1] - self.mant_offset
        mant_ok = np.all((mant >= 0) & (mant < self.n_mant), axis=-1)
        if self.mantissa == "base1000":
            m = mant[..., 0]
        else:
            m = mant[..., 0] * 100 + mant[..., 1] * 10 + mant[..., 2]
        e = t[..., -1] - self.exp_offset
        exp_ok = (e >= 0) & (e <= self.e_max - self.e_min)
        val = np.where(t[..., 0] == MINUS, -1.0, 1.0) * m * 10.0 ** (e + self.e_min)
        return np.where(sign_ok & mant_ok & exp_ok, val, np.nan)

    def allowed_tokens(self, position: int) -> torch.Tensor:
        """Bool mask (vocab_size,) of the tokens valid at ``position`` within a number group."""
        j = position % self.tokens_per_number
        ok = torch.zeros(self.vocab_size, dtype=torch.bool)
        if j == 0:
            ok[[PLUS, MINUS]] = True
        elif j == self.tokens_per_number - 1:
            ok[self.exp_offset:] = True
        else:
            ok[self.mant_offset:self.mant_offset + self.n_mant] = True
        return ok


def random_symmetric_matrices(n: int, dim: int, *, max_coeff: float = 10.0,
                              rng: SeedLike = None) -> np.ndarray:
    """(n, dim, dim) symmetric matrices, upper triangle uniform on [-max_coeff, max_coeff] (LAWT)."""
    n = check_int("n", n, low=0)
    dim = check_int("dim", dim, low=1)
    max_coeff = check_real("max_coeff", max_coeff, low=0.0, low_open=True)
    a = as_rng(rng).uniform(-max_coeff, max_coeff, size=(n, dim, dim))
    return np.triu(a) + np.swapaxes(np.triu(a, 1), 1, 2)


def sorted_eigenvalues(matrices) -> np.ndarray:
    """Eigenvalues in descending order, (n, dim)."""
    m = check_array("matrices", matrices, ndim=3)
    return np.linalg.eigvalsh(m)[:, ::-1].copy()


def relative_l1_error(pred, true) -> np.ndarray:
    """sum_j |pred_j - true_j| / sum_j |true_j| per row (n,); NaN predictions give +inf."""
    pred = np.asarray(pred, dtype=np.float64)
    true = check_array("true", true, ndim=2)
    if pred.shape != true.shape:
        raise ValueError(f"`pred` must have shape {true.shape}, got {pred.shape}")
    err = np.abs(pred - true).sum(1) / np.maximum(np.abs(true).sum(1), 1e-12)
    return np.where(np.isnan(err), np.inf, err)


class EigenTask:
    """Tokenisation of (matrix, eigenvalues) pairs for a decoder-only model."""

    def __init__(self, dim: int = 3, codec: FloatCodec | None = None, tolerance: float = 0.05):
        self.dim = check_int("dim", dim, low=2)
        self.codec = codec or FloatCodec()
        self.tolerance = check_real("tolerance", tolerance, low=0.0, low_open=True)
        self.iu = np.triu_indices(self.dim)
        self.prompt_len = len(self.iu[0]) * self.codec.tokens_per_number + 1  # + separator
        self.answer_len = self.dim * self.codec.tokens_per_number

    @property
    def vocab_size(self) -> int:
        return self.codec.vocab_size

    def prompts(self, matrices) -> torch.Tensor:
        """(n, prompt_len) int64: upper-triangle reals then the separator."""
        m = np.asarray(matrices, dtype=np.float64)
        tok = self.codec.encode(m[:, self.iu[0], self.iu[1]]).reshape(m.shape[0], -1)
        return torch.from_numpy(np.concatenate([tok, np.full((m.shape[0], 1), SEP)], 1))

    def answers(self, eigenvalues) -> torch.Tensor:
        e = np.asarray(eigenvalues, dtype=np.float64)
        return torch.from_numpy(self.codec.encode(e).reshape(e.shape[0], -1))

    def decode(self, answer_tokens) -> np.ndarray:
        """(..., answer_len) tokens -> (..., dim) values."""
        t = np.asarray(answer_tokens)
        return self.codec.decode(t.reshape(*t.shape[:-1], self.dim, self.codec.tokens_per_number))

    def allowed(self, step: int, prefix: torch.Tensor) -> torch.Tensor:
        """Constrained decoding: the token kind each answer position must have."""
        return self.codec.allowed_tokens(step)

    def correct(self, pred, true) -> np.ndarray:
        return relative_l1_error(pred, true) < self.tolerance


def new_model(task_vocab: int, max_len: int, *, d_model: int = 64, n_layers: int = 2, n_heads: int = 4,
              seed: SeedLike | torch.Generator = 0, device: str | torch.device = "cpu"):
    """A fresh :class:`collapselab.nn.DecoderLM` whose weights come from ``seed`` only.

    ``seed`` is an int or a CPU ``torch.Generator``; every parameter is drawn from it by
    :func:`collapselab.nn.init_parameters` (PyTorch's default laws) on the CPU, then the model moves
    to ``device``, so the same seed gives the same weights on every device and the global torch RNG
    is never touched.
    """
    from collapselab.nn import DecoderLM, init_parameters

    model = DecoderLM(task_vocab, d_model=d_model, n_layers=n_layers, n_heads=n_heads, max_len=max_len)
    init_parameters(model, as_torch_generator(seed))
    return model.to(device)


def eigen_predict(task: EigenTask, model, matrices, *, beam_size: int = 1, batch_size: int = 512):
    """Decoded eigenvalue predictions (n, beam_size, dim) by constrained beam search (1: greedy)."""
    from collapselab.verification._seqmodel import beam_search

    out = beam_search(model, task.prompts(matrices), beam_size=beam_size, max_new_tokens=task.answer_len,
                      allowed=task.allowed, batch_size=batch_size)
    return task.decode(out.tokens.numpy()), out.tokens
