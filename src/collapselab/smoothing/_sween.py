"""SWEEN: smoothed weighted ensembling (Liu, Feng, Wang & Dong 2020, arXiv 2005.09363).

Candidates f_1..f_K output class probabilities (softmax of their logits). The ensemble is

    g(x) = sum_i alpha_i f_i(x),   alpha = softmax(w)  (on the simplex; w = 0 is uniform),

and the smoothed SWEEN classifier is Cohen's smoothing of argmax g.  [V-code: SWEEN-author/SWEEN,
``model/ensemble.py``]  Only w is trained, by cross-entropy of g on noisy held-out data
(one noise draw per image per epoch), the candidates frozen.  [V-code: ``training/ens.py``]

Adaptive prediction evaluates the members in descending weight order and stops, per noisy input,
as soon as the top class is settled. The stopping rule is a deterministic function of the noisy
input, so the adaptive ensemble is itself a base classifier and Cohen's certificate applies to its
smoothed version unchanged.  [V-code reasoning, notes 2.6]
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import NormalDist
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from collapselab._rng import as_torch_generator, spawn
from collapselab._validation import check_choice, check_int, check_real

RULES = ("ztest", "bound")


class SWEEN(nn.Module):
    """Weighted ensemble g(x) = sum_i softmax(w)_i softmax(f_i(x)); forward returns probabilities (B, C).

    The candidates are frozen (requires_grad False) and kept in eval mode; ``w`` (K,) starts at 0.
    """

    def __init__(self, candidates: Sequence[nn.Module]):
        super().__init__()
        candidates = list(candidates)
        if not candidates or not all(isinstance(c, nn.Module) for c in candidates):
            raise ValueError("`candidates` must be a non-empty sequence of nn.Module")
        self.members = nn.ModuleList(candidates)
        for p in self.members.parameters():
            p.requires_grad_(False)
        self.w = nn.Parameter(torch.zeros(len(candidates)))
        self.eval()

    def train(self, mode: bool = True) -> SWEEN:  # the members stay in eval mode (frozen BN stats)
        super().train(mode)
        self.members.eval()
        return self

    @property
    def weights(self) -> torch.Tensor:
        """alpha = softmax(w), shape (K,), on the simplex."""
        return torch.softmax(self.w.detach(), dim=0)

    def for_inference(self) -> SWEEN:
        """A new SWEEN with the same weights ``w`` and each member replaced by
        :func:`collapselab.nn.fused_for_inference` of it (batch norms folded into the convolutions,
        channels-last layout): the same ensemble up to float rounding, faster to evaluate on many noisy
        copies (the members are frozen, so nothing is lost). ``self`` is not modified."""
        from collapselab.nn import fused_for_inference

        fast = SWEEN([fused_for_inference(m) for m in self.members])
        with torch.no_grad():
            fast.w.copy_(self.w.detach())
        return fast.to(self.w.device)

    def member_probs(self, x: torch.Tensor) -> torch.Tensor:
        """softmax(f_i(x)) for every member: (B, K, C)."""
        return torch.stack([torch.softmax(m(x), dim=-1) for m in self.members], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("k,bkc->bc", torch.softmax(self.w, dim=0), self.member_probs(x))

    def fit_weights(self, x: torch.Tensor, y: torch.Tensor, sigma: float, *, epochs: int = 20,
                    batch_size: int = 64, lr: float = 0.01, weight_decay: float = 5e-4,
                    optimizer: str = "sgd", milestones: Sequence[int] = (), gamma: float = 0.1,
                    device: str | torch.device = "cpu",
                    generator: torch.Generator | int | None = None) -> list[float]:
        """Train only w by minimising  -log(g_y(x + delta) + 1e-10),  delta ~ N(0, sigma^2 I), on
        held-out (x, y) (data the candidates were not trained on). One noise draw per image per
        epoch; SGD with momentum 0.9 as in the release (lr 0.01, weight decay 5e-4).  [V-code]
        The loop is :func:`collapselab.nn.fit`; ``milestones`` (epochs) multiply the rate by ``gamma``
        there (the release: 60 and 90 of 150 epochs, gamma 0.1; empty: a constant rate). Returns the
        mean loss of each epoch; afterwards ``self.weights`` holds alpha.
        """
        from collapselab.nn import fit

        check_int("epochs", epochs, low=0)
        check_int("batch_size", batch_size, low=1)
        check_real("lr", lr, low=0.0, low_open=True)
        sigma = check_real("sigma", sigma, low=0.0)
        check_choice("optimizer", optimizer, ("sgd", "adam"))
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"`x` and `y` must have the same length, got {x.shape[0]} and {y.shape[0]}")
        gen = as_torch_generator(generator)  # CPU: batch order; the noise gets its own device generator
        noise_gen = spawn(gen, device)

        def noisy(xb: torch.Tensor, g: torch.Generator | None) -> torch.Tensor:
            return xb + sigma * torch.randn(xb.shape, generator=noise_gen, device=xb.device)

        return fit(_LogEnsemble(self), x, y, epochs=epochs, batch_size=batch_size, lr=lr,
                   weight_decay=weight_decay, optimizer=optimizer, loss_fn=F.nll_loss, augment=noisy,
                   device=device, generator=gen, **_steps(milestones, gamma))


@torch.inference_mode()
def noisy_nll(ens: SWEEN, x: torch.Tensor, y: torch.Tensor, sigma: float, weights: torch.Tensor, *,
              n_noise: int = 4, batch_size: int = 500, device: str | torch.device = "cpu",
              generator: torch.Generator | int | None = None) -> torch.Tensor:
    """Per-image negative log-likelihood of weighted ensembles of ``ens``'s members under noise, on the
    same noise draws for every weight vector (paired comparisons):

        NLL_j(x, y) = (1/m) sum_{t=1..m} -log( sum_i a_{j,i} softmax(f_i(x + delta_t))_y + 1e-10 ),
        delta_t ~ N(0, sigma^2 I),  m = ``n_noise``,

    the loss that ``fit_weights`` minimises (the release's ``ens_train.py`` objective), evaluated on data
    the weights were not fitted on. ``weights`` (J, K): J weight vectors on the simplex (e.g. uniform
    1/K and the fitted alpha). Returns (N, J) float64 on the CPU. The noise comes from ``generator`` (a CPU
    stream, so the draws do not depend on ``device``), drawn per chunk of batch_size // n_noise images.
    """
    sigma = check_real("sigma", sigma, low=0.0)
    n_noise = check_int("n_noise", n_noise, low=1)
    batch_size = check_int("batch_size", batch_size, low=1)
    if x.shape[0] != y.shape[0] or y.ndim != 1:
        raise ValueError(f"`x` and `y` must pair N inputs with N labels, got {tuple(x.shape)} and {tuple(y.shape)}")
    k = len(ens.members)
    weights = torch.as_tensor(weights, dtype=torch.float32)
    if weights.ndim != 2 or weights.shape[1] != k or bool((weights < 0).any()) or not torch.allclose(
            weights.sum(1), torch.ones(weights.shape[0]), atol=1e-4):
        raise ValueError(f"`weights` must be (J, {k}) rows on the simplex, got {tuple(weights.shape)}")
    gen = as_torch_generator(generator)
    dev = torch.device(device)
    ens.eval()
    a = weights.to(dev)
    per = max(1, batch_size // n_noise)  # images per forward batch
    out = []
    for start in range(0, x.shape[0], per):
        xb, yb = x[start:start + per], y[start:start + per]
        noise = torch.randn((n_noise, *xb.shape), generator=gen)  # (m, b, ...) on the CPU
        batch = (xb.unsqueeze(0) + sigma * noise).reshape(-1, *xb.shape[1:]).to(dev)  # (m*b, ...)
        probs = ens.member_probs(batch)  # (m*b, K, C)
        py = probs[torch.arange(probs.shape[0], device=dev), :, yb.to(dev).repeat(n_noise)]  # (m*b, K)
        nll = -torch.log(py @ a.T + 1e-10).reshape(n_noise, xb.shape[0], -1).mean(0)  # (b, J)
        out.append(nll.double().cpu())
    return torch.cat(out)


class _LogEnsemble(nn.Module):
    """log(g(x) + 1e-10) of a SWEEN, as "logits" for the NLL loss of :func:`collapselab.nn.fit`
    (the release's ``ens_train.py`` loss); the members run without building a graph."""

    def __init__(self, ens: SWEEN):
        super().__init__()
        self.ens = ens

    def train(self, mode: bool = True) -> _LogEnsemble:
        self.ens.train(mode)  # keeps the members in eval mode
        self.training = mode
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            probs = self.ens.member_probs(x)  # (B, K, C)
        return torch.log(torch.einsum("k,bkc->bc", torch.softmax(self.ens.w, dim=0), probs) + 1e-10)


class AdaptiveOutput(NamedTuple):
    probs: torch.Tensor  # (B, C) the partial weighted mean at the stopping member
    n_evals: torch.Tensor  # (B,) members evaluated for each input (1..K)


def _settled(s1: torch.Tensor, s2: torch.Tensor, a_sum: float, a_sq: float, k: int, n_members: int,
             rule: str, threshold: float, z: float, rest: float) -> torch.Tensor:
    """Stopping test after k members. s1 = sum_i a_i p_i, s2 = sum_i a_i p_i^2 (B, C) over the first
    k members, a_sum = sum a_i, a_sq = sum a_i^2, rest = weight of the members not yet evaluated."""
    if k == n_members:
        return torch.ones(s1.shape[0], dtype=torch.bool, device=s1.device)
    if rule == "bound":  # exact: the rest can add at most `rest` to any class
        top2 = s1.topk(2, dim=1).values
        return top2[:, 0] - top2[:, 1] > rest
    mean = s1 / a_sum
    p_top, top = mean.max(dim=1)
    if k == 1:  # the release's first-member rule
        return p_top > threshold
    var = (s2.gather(1, top[:, None])[:, 0] / a_sum - p_top ** 2).clamp_min(0.0)
    margin = z * (a_sq ** 0.5 / a_sum) * var.sqrt()
    return p_top > 0.5 + margin


def _check_rule(rule, threshold, confidence):
    check_choice("rule", rule, RULES)
    check_real("threshold", threshold, low=0.0, high=1.0)
    confidence = check_real("confidence", confidence, low=0.0, high=1.0, low_open=True, high_open=True)
    return NormalDist().inv_cdf((1 + confidence) / 2)


def adaptive_combine(member_probs: torch.Tensor, weights: torch.Tensor, *, rule: str = "ztest",
                     threshold: float = 0.999, confidence: float = 0.95) -> AdaptiveOutput:
    """Adaptive prediction from precomputed member probabilities (B, K, C), weights (K,) on the simplex.

    Members are taken in descending weight order; an input stops at the first member k where

    * ``rule="ztest"`` (the release's rule [V-code], notes 2.6): k = 1 and max p_1 > threshold; or
      k >= 2 and p_L > 1/2 + z sqrt(sum a_i^2)/A * sqrt(sum a_i (p_{i,L} - p_L)^2 / A), with
      p = sum a_i p_i / A the partial weighted mean, L its top class, A = sum_{i<=k} a_i,
      z = Phi^{-1}((1 + confidence)/2): a normal-approximation test that the top class, above 1/2,
      cannot be overtaken. It may differ from the full ensemble's argmax on rare inputs.
    * ``rule="bound"``: S_L - S_second > R, S = sum_{i<=k} a_i p_i unnormalised and R the weight that
      remains: the remaining members cannot change the argmax, so the output class always equals the
      full ensemble's.  [D: derived here]

    The last member settles every remaining input. This is the reference the lazy
    :class:`AdaptiveSWEEN` is tested against; here ``n_evals`` counts what it would evaluate.
    """
    z = _check_rule(rule, threshold, confidence)
    if member_probs.ndim != 3 or weights.shape != (member_probs.shape[1],):
        raise ValueError(f"`member_probs` must be (B, K, C) and `weights` (K,), got "
                         f"{tuple(member_probs.shape)} and {tuple(weights.shape)}")
    order = torch.argsort(weights, descending=True, stable=True)
    a = weights[order].tolist()
    probs = member_probs[:, order]
    b, k_all, _ = probs.shape
    out = torch.zeros_like(probs[:, 0])
    n_evals = torch.zeros(b, dtype=torch.long, device=probs.device)
    done = torch.zeros(b, dtype=torch.bool, device=probs.device)
    s1 = torch.zeros_like(out)
    s2 = torch.zeros_like(out)
    for k in range(1, k_all + 1):
        p = probs[:, k - 1]
        s1 += a[k - 1] * p
        s2 += a[k - 1] * p * p
        a_sum, a_sq = sum(a[:k]), sum(x * x for x in a[:k])
        stop = _settled(s1, s2, a_sum, a_sq, k, k_all, rule, threshold, z, 1.0 - a_sum) & ~done
        out[stop] = s1[stop] / a_sum
        n_evals[stop] = k
        done |= stop
    return AdaptiveOutput(out, n_evals)


class AdaptiveSWEEN(nn.Module):
    """The adaptive SWEEN base classifier: evaluates member k only on the inputs not yet settled.

    forward(x) -> probabilities (B, C) (the partial weighted mean where each input stopped).
    Counters: ``member_evals_`` (member-input evaluations so far) and ``inputs_`` (inputs seen);
    the full ensemble costs K per input. ``reset_counts()`` zeroes them.
    """

    def __init__(self, sween: SWEEN, *, rule: str = "ztest", threshold: float = 0.999,
                 confidence: float = 0.95):
        super().__init__()
        if not isinstance(sween, SWEEN):
            raise ValueError(f"`sween` must be a SWEEN, got {type(sween).__name__}")
        self.z = _check_rule(rule, threshold, confidence)
        self.sween, self.rule, self.threshold = sween, rule, threshold
        self.reset_counts()
        self.eval()

    def reset_counts(self) -> None:
        self.member_evals_ = 0
        self.inputs_ = 0

    @property
    def saving_(self) -> float:
        """1 - member evaluations / (K * inputs): the fraction of the full ensemble's work saved."""
        k = len(self.sween.members)
        return 1.0 - self.member_evals_ / max(k * self.inputs_, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.sween.weights
        order = torch.argsort(w, descending=True, stable=True).tolist()
        a = w[order].tolist()
        k_all = len(order)
        active = torch.arange(x.shape[0], device=x.device)
        out = s1 = s2 = None
        for k in range(1, k_all + 1):
            p = torch.softmax(self.sween.members[order[k - 1]](x[active]), dim=-1)  # (b_active, C)
            self.member_evals_ += int(active.numel())
            if out is None:
                out = torch.zeros(x.shape[0], p.shape[1], device=x.device, dtype=p.dtype)
                s1, s2 = a[0] * p, a[0] * p * p
            else:
                s1, s2 = s1 + a[k - 1] * p, s2 + a[k - 1] * p * p
            a_sum, a_sq = sum(a[:k]), sum(v * v for v in a[:k])
            stop = _settled(s1, s2, a_sum, a_sq, k, k_all, self.rule, self.threshold, self.z, 1.0 - a_sum)
            out[active[stop]] = s1[stop] / a_sum
            keep = ~stop
            active, s1, s2 = active[keep], s1[keep], s2[keep]
            if active.numel() == 0:
                break
        self.inputs_ += int(x.shape[0])
        return out


def train_with_noise(model: nn.Module, x: torch.Tensor, y: torch.Tensor, sigma: float, *, epochs: int = 10,
                     batch_size: int = 128, lr: float = 1e-3, weight_decay: float = 0.0,
                     optimizer: str = "adam", augment=None, milestones: Sequence[int] = (),
                     gamma: float = 0.1, device: str | torch.device = "cpu",
                     generator: torch.Generator | int | None = None,
                     channels_last: bool | None = None) -> list[float]:
    """Gaussian noise augmentation (Cohen et al. Sec. 4): train on x + delta, delta ~ N(0, sigma^2 I),
    one fresh draw per image per epoch, so that f is accurate under the noise the smoothing adds.

    ``augment(xb, generator)`` (optional) is applied before the noise (e.g. crops and flips).
    The batch order comes from ``generator`` (CPU); the noise from a device generator seeded from it.
    ``milestones`` (epochs) multiply the rate by ``gamma`` (the release: 150 and 300 of 400 epochs).
    Returns the mean loss per epoch (:func:`collapselab.nn.fit`).

    Layout: with ``channels_last`` the model and the noisy batches are in channels-last memory format
    during training (the same arithmetic and noise; only the float rounding of the convolutions may
    differ); the model is returned to the contiguous format afterwards. None (default): channels-last
    on a CPU for a conv net with batch norm or no normalisation (no GroupNorm / LayerNorm /
    InstanceNorm): one thread, batch 128 of MNIST, ConvNet-w8 and -w32 (batch norm) 1.1-1.9x and LeNet
    1.15-1.4x faster per step; contiguous for everything else (group-norm conv nets train slower in
    channels-last, and MLPs have no image layout) and on a GPU (not measured).
    """
    from collapselab.nn import fit, prefers_channels_last

    sigma = check_real("sigma", sigma, low=0.0)
    gen = as_torch_generator(generator)
    noise_gen = spawn(gen, device)
    if channels_last is None:
        channels_last = torch.device(device).type == "cpu" and prefers_channels_last(model)

    def noisy(xb: torch.Tensor, g: torch.Generator | None) -> torch.Tensor:
        if augment is not None:
            xb = augment(xb, g)
        xb = xb + sigma * torch.randn(xb.shape, generator=noise_gen, device=xb.device)
        return xb.contiguous(memory_format=torch.channels_last) if channels_last and xb.ndim == 4 else xb

    if channels_last:
        model.to(memory_format=torch.channels_last)
    try:
        return fit(model, x, y, epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                   optimizer=optimizer, augment=noisy, device=device, generator=gen,
                   **_steps(milestones, gamma))
    finally:
        if channels_last:  # contiguous at rest (safetensors refuses non-contiguous weights)
            model.to(memory_format=torch.contiguous_format)


def _steps(milestones: Sequence[int], gamma: float) -> dict:
    """:func:`collapselab.nn.fit`'s schedule arguments: a step schedule at ``milestones``, else constant."""
    return {"schedule": "multistep", "milestones": list(milestones), "gamma": gamma} if milestones else {}



class EnsembleHeads(nn.Module):
    """A multi-head base classifier for certifying several classifiers on the *same* noise draws.

    Every member of ``ens`` runs once per noisy copy; each head then votes from the member
    probabilities p (B, K, C): ``"cand{i}"`` (member i alone), ``"uniform"`` (mean over members),
    ``"sween"`` (alpha-weighted, alpha = ``ens.weights``), ``"adaptive"`` / ``"adaptive-bound"``
    (:func:`adaptive_combine` with rules "ztest" / "bound"; the member evaluations each would make
    are added to ``evals[head]``). forward returns (B, H, C), for
    :func:`collapselab.smoothing.smoothed_class_counts`. Each head's certificate holds on its own;
    shared noise makes comparisons between heads paired.
    """

    def __init__(self, ens: SWEEN, heads: Sequence[str]):
        super().__init__()
        if not isinstance(ens, SWEEN):
            raise ValueError(f"`ens` must be a SWEEN, got {type(ens).__name__}")
        heads = list(heads)
        k = len(ens.members)
        for h in heads:
            ok = h in ("uniform", "sween", "adaptive", "adaptive-bound") or (
                h.startswith("cand") and h[4:].isdigit() and int(h[4:]) < k)
            if not ok:
                raise ValueError(f"`heads` entry {h!r} is not one of cand0..cand{k - 1}, uniform, sween, "
                                 "adaptive, adaptive-bound")
        self.ens, self.heads = ens, heads
        self.evals = {h: 0 for h in heads if h.startswith("adaptive")}
        self.inputs = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probs = self.ens.member_probs(x)  # (B, K, C)
        a = self.ens.weights.to(x.device)
        out = []
        for h in self.heads:
            if h.startswith("cand"):
                out.append(probs[:, int(h[4:])])
            elif h == "uniform":
                out.append(probs.mean(1))
            elif h == "sween":
                out.append(torch.einsum("k,bkc->bc", a, probs))
            else:
                res = adaptive_combine(probs, a, rule="bound" if h == "adaptive-bound" else "ztest")
                self.evals[h] += int(res.n_evals.sum())
                out.append(res.probs)
        self.inputs += x.shape[0]
        return torch.stack(out, dim=1)
