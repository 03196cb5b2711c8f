"""Small stochastic classifiers with known answers, shared by the bayes tests."""

import pytest
import torch


class LinearModel:
    """Deterministic linear classifier logits = x.flatten(1) @ W.T + b, repeated over samples."""

    def __init__(self, w: torch.Tensor, b: torch.Tensor | None = None, *, softmax: bool = False):
        self.w = w
        self.b = torch.zeros(w.shape[0]) if b is None else b
        self.softmax = softmax

    def __call__(self, x: torch.Tensor, n_samples: int) -> torch.Tensor:
        out = x.flatten(1) @ self.w.T + self.b  # (B, C)
        if self.softmax:
            out = out.softmax(-1)
        return out.unsqueeze(0).expand(n_samples, *out.shape)


class NoisyLinear:
    """Two classes; sample s has logits (0, (w + sigma * xi_s) . x) with xi_s ~ N(0, I) fresh per call."""

    def __init__(self, w: torch.Tensor, sigma: float, seed: int = 0):
        self.w, self.sigma = w, sigma
        self.gen = torch.Generator().manual_seed(seed)

    def __call__(self, x: torch.Tensor, n_samples: int) -> torch.Tensor:
        xi = torch.randn((n_samples, self.w.numel()), generator=self.gen)
        m = x.flatten(1) @ (self.w + self.sigma * xi).T  # (B, S)
        return torch.stack([torch.zeros_like(m), m], -1).transpose(0, 1)  # (S, B, 2)


@pytest.fixture
def linear_model():
    return LinearModel


@pytest.fixture
def noisy_linear():
    return NoisyLinear
