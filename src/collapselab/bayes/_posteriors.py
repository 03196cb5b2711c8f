"""Posterior approximations behind the stochastic-classifier protocol: MAP, MCDropout, MeanFieldVI,
DeepEnsemble and HMC. Each is an ``nn.Module`` with ``forward(x, n_samples) -> (S, B, C)`` logits,
``fit(x, y, ...) -> self``, ``save(path)`` and ``load(path)`` (``torch.load(weights_only=True)``).

All randomness comes from the constructor's ``seed`` through independent streams (init, training
order, posterior sampling); nothing touches torch's global RNG state. A fresh forward draws fresh
posterior samples (MC dropout masks, VI weights; a random subset for finite sample sets), so PGD
with these models is EOT by construction.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Self

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from collapselab._rng import as_torch_generator
from collapselab._validation import check_int, check_real
from collapselab.bayes._hmc import hmc_sample, split_rhat
from collapselab.bayes._nets import build_net, check_arch
from collapselab.nn import fit as nn_fit

_REGISTRY: dict[str, type[Posterior]] = {}


def _streams(seed: int | None, n: int) -> list[int]:
    """``n`` independent integer seeds from one seed (``np.random.SeedSequence`` spawning). Kept as it is
    rather than children drawn by ``_rng.spawn_seed``: that would change every posterior's draws."""
    ss = np.random.SeedSequence(seed)
    return [int(s.generate_state(1)[0]) for s in ss.spawn(n)]


def _gen(seed: int, device: Any = "cpu") -> torch.Generator:
    return as_torch_generator(int(seed), device)


class _Sampler:
    """Per-device torch generators for posterior sampling (a plain object, so not a submodule)."""

    def __init__(self, seed: int):
        self.seed = seed
        self._gens: dict[str, torch.Generator] = {}

    def get(self, device: torch.device) -> torch.Generator:
        key = str(device)
        if key not in self._gens:
            self._gens[key] = _gen(self.seed, device)
        return self._gens[key]


class Posterior(nn.Module):
    """Base class: a posterior over the weights of the net described by ``arch`` (see ``_nets``)."""

    def __init__(self, arch: dict[str, Any], *, seed: int | None = None):
        super().__init__()
        self.arch = check_arch(arch)
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1)[0])
        self.seed = check_int("seed", seed, low=0)
        self._init_seed, self._fit_seed, sample_seed = _streams(self.seed, 3)
        self._sampler = _Sampler(sample_seed)
        self.info_: dict[str, float] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _REGISTRY[cls.__name__] = cls

    # --- protocol ---------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, n_samples: int = 1) -> torch.Tensor:  # (S, B, C)
        raise NotImplementedError

    def reseed(self, seed: int) -> Posterior:
        """Restart the posterior-sampling stream from ``seed`` (for reproducible evaluations)."""
        self._sampler = _Sampler(check_int("seed", seed, low=0))
        return self

    def _generator(self, device: torch.device) -> torch.Generator:
        return self._sampler.get(device)

    # --- persistence ------------------------------------------------------------------------------
    def _config(self) -> dict[str, Any]:
        return {"arch": self.arch, "seed": self.seed}

    def save(self, path: str | Path) -> Path:
        """Write class name, constructor config, fitted info and the state dict (tensors only)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu() for k, v in self.state_dict().items()}
        torch.save(
            {
                "class": type(self).__name__,
                "config": self._config(),
                "info": dict(self.info_),
                "state": state,
            },
            path,
        )
        return path

    @classmethod
    def load(cls, path: str | Path, *, map_location: str | torch.device = "cpu") -> Posterior:
        """Load a saved posterior (safe: ``torch.load(weights_only=True)``). ``Posterior.load`` returns
        whichever subclass was saved; ``MAP.load`` etc. check the class."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no saved posterior at {path}")
        payload = torch.load(path, map_location=map_location, weights_only=True)
        name = payload.get("class")
        if name not in _REGISTRY:
            raise ValueError(f"{path}: unknown posterior class {name!r}; known: {sorted(_REGISTRY)}")
        target = _REGISTRY[name]
        if cls is not Posterior and target is not cls:
            raise ValueError(f"{path} holds a {name}, not a {cls.__name__}")
        obj = target(**payload["config"])
        obj._prepare_load(payload["state"])
        obj.load_state_dict(payload["state"])
        obj.info_ = dict(payload.get("info", {}))
        return obj.to(map_location)

    def _prepare_load(self, state: dict[str, torch.Tensor]) -> None:
        """Resize buffers whose size depends on fitting (HMC samples)."""


class _TrainView(nn.Module):
    """One posterior sample as a plain (B, C) classifier, for the shared training loop."""

    def __init__(self, posterior: Posterior):
        super().__init__()
        self.posterior = posterior

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.posterior(x, 1)[0]


def _train(
    module: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    seed: int,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float = 0.0,
    loss_fn=None,
    device: str | torch.device = "cpu",
) -> float:
    """Train ``module`` in place with :func:`collapselab.nn.fit`, batch order from ``seed``; the last
    epoch's mean loss (NaN for zero epochs)."""
    hist = nn_fit(
        module,
        x,
        y,
        epochs=check_int("epochs", epochs, low=0),
        batch_size=check_int("batch_size", batch_size, low=1),
        lr=check_real("lr", lr, low=0.0, low_open=True),
        weight_decay=check_real("weight_decay", weight_decay, low=0.0),
        loss_fn=loss_fn,
        device=device,
        generator=_gen(seed),
    )
    return hist[-1] if hist else float("nan")


def _check_xy(x: torch.Tensor, y: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor) or x.shape[0] != y.shape[0]:
        raise ValueError("`x` and `y` must be tensors of the same length")
    if y.dtype != torch.int64:
        raise ValueError(f"`y` must be int64 class labels, got {y.dtype}")


class _TrainsNet:
    """``fit`` for posteriors whose nets are trained by maximum likelihood (+ weight decay), each with its
    own batch-order stream: one net ``self.net`` (MAP, MC dropout) or the members of a deep ensemble."""

    def _trained_nets(self) -> list[tuple[nn.Module, int]]:
        """The (net, batch-order seed) pairs that :meth:`fit` trains."""
        return [(self.net, self._fit_seed)]

    def fit(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        *,
        epochs: int = 10,
        batch_size: int = 128,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        device: str | torch.device = "cpu",
        together: bool = False,
    ) -> Self:
        """Train each net with Adam on cross-entropy, the batch order from its seed; ``info_["final_loss"]``
        is the last epoch's mean loss (averaged over the nets).

        ``together=True`` (a deep ensemble's members): the nets take their steps together, as one batched
        model (:func:`collapselab.nn.fit_replicates`: each member keeps its init, its batch order and its
        optimiser state, so it trains as it would alone, up to float rounding; an MLP's members run as
        one batched matrix product per layer, ~3x faster for small MLPs on a CPU thread). One net trains
        as without it."""
        _check_xy(x, y)
        nets = self._trained_nets()
        kw = {"epochs": check_int("epochs", epochs, low=0), "batch_size": check_int("batch_size", batch_size, low=1),
              "lr": check_real("lr", lr, low=0.0, low_open=True),
              "weight_decay": check_real("weight_decay", weight_decay, low=0.0), "device": device}
        if together and len(nets) > 1:
            from collapselab.nn.batched import fit_replicates

            done = fit_replicates(lambda k: nets[k][0], range(len(nets)), x, y,
                                  generators=[_gen(s) for _, s in nets], **kw)
            losses = [e[-1] if e else float("nan") for e in done.epoch_losses]
        else:
            losses = [_train(net, x, y, s, **kw) for net, s in nets]
        self.info_["final_loss"] = float(np.mean(losses))
        return self


class MAP(_TrainsNet, Posterior):
    """A point estimate (weight decay = Gaussian prior): every 'sample' repeats the same logits."""

    def __init__(self, arch: dict[str, Any], *, seed: int | None = None):
        super().__init__(arch, seed=seed)
        self.net = build_net(self.arch, generator=_gen(self._init_seed))

    def forward(self, x: torch.Tensor, n_samples: int = 1) -> torch.Tensor:
        out = self.net(x)  # (B, C)
        return out.unsqueeze(0).expand(n_samples, *out.shape)


class _SampledDropout(nn.Module):
    """Inverted dropout that is always on and draws its masks from the posterior's generator."""

    def __init__(self, p: float, sampler: _Sampler):
        super().__init__()
        self.p = p
        self._sampler = sampler
        self.fixed: Any = None  # set by MCDropout.sample_view while a fixed sample runs: x -> x * mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fixed is not None:
            return self.fixed(x)
        keep = torch.rand(x.shape, generator=self._sampler.get(x.device), device=x.device) >= self.p
        return x * keep / (1.0 - self.p)


class MCDropout(_TrainsNet, Posterior):
    """MC dropout (Gal & Ghahramani 2016): dropout with rate ``p`` kept on at test time; each of the S
    samples of an input uses its own masks. Sampling streams are reset by :meth:`reseed`."""

    def __init__(self, arch: dict[str, Any], *, p: float = 0.2, seed: int | None = None):
        super().__init__(arch, seed=seed)
        self.p = check_real("p", p, low=0.0, high=1.0, low_open=True, high_open=True)
        self.net = build_net(self.arch, dropout=self.p, generator=_gen(self._init_seed))
        self._swap_dropout()

    def _swap_dropout(self) -> None:
        for module in self.net.modules():
            for name, child in module.named_children():
                if isinstance(child, nn.Dropout):
                    setattr(module, name, _SampledDropout(self.p, self._sampler))

    def reseed(self, seed: int) -> MCDropout:
        super().reseed(seed)
        for m in self.net.modules():
            if isinstance(m, _SampledDropout):
                m._sampler = self._sampler
        return self

    def _config(self) -> dict[str, Any]:
        return {**super()._config(), "p": self.p}

    def forward(self, x: torch.Tensor, n_samples: int = 1) -> torch.Tensor:
        b = x.shape[0]
        xs = x.unsqueeze(0).expand(n_samples, *x.shape).reshape(n_samples * b, *x.shape[1:])  # (S*B, ...)
        return self.net(xs).reshape(n_samples, b, -1)

    def sample_view(self, index: int = 0):
        """Posterior sample ``index`` alone, as a deterministic stochastic classifier ``f(x, n_samples)``:
        the net with one dropout mask per layer drawn once (a mask over the layer's features, shared by
        every input, as a dropout weight sample drops whole units) and then held fixed. The masks come
        from their own stream (the posterior's sampling stream and ``index``), drawn at the first call
        for the input shape; later calls reuse them, so two calls give identical logits. The view shares
        the net's weights (Carbone et al.'s 1-sample attack on one fixed sample; the audit's one-sample flaw)."""
        index = check_int("index", index, low=0)
        gen = _gen(_streams(self._sampler.seed, index + 1)[index])
        masks: dict[tuple[int, tuple[int, ...]], torch.Tensor] = {}
        layers = [m for m in self.net.modules() if isinstance(m, _SampledDropout)]

        def fixed(layer: int, p: float):
            def apply(h: torch.Tensor) -> torch.Tensor:
                key = (layer, tuple(h.shape[1:]))
                if key not in masks:  # drawn on CPU so the mask does not depend on the device
                    masks[key] = (torch.rand(key[1], generator=gen) >= p).to(h.device, h.dtype) / (1.0 - p)
                return h * masks[key]
            return apply

        def single(x: torch.Tensor, n_samples: int = 1) -> torch.Tensor:
            for i, m in enumerate(layers):
                m.fixed = fixed(i, m.p)
            try:
                out = self.net(x).unsqueeze(0)  # (1, B, C)
            finally:
                for m in layers:
                    m.fixed = None
            return out.expand(n_samples, *out.shape[1:])

        return single


class _Functional:
    """A template net evaluated with a batch of parameter sets: vmap over functional_call."""

    def __init__(self, template: nn.Module):
        self.template = template
        self.names = [n for n, _ in template.named_parameters()]
        self.shapes = [p.shape for _, p in template.named_parameters()]
        self.sizes = [p.numel() for _, p in template.named_parameters()]
        if any(True for _ in template.buffers()):
            raise ValueError("`arch` has buffers (batch norm); sampled-weight posteriors need none")

    def __call__(self, params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        """params: name -> (K, *shape); x: (B, ...). Returns (K, B, C)."""
        return vmap(lambda p, xx: functional_call(self.template, p, (xx,)), in_dims=(0, None))(params, x)

    def unflatten(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        """(K, D) -> name -> (K, *shape)."""
        parts = torch.split(flat, self.sizes, dim=-1)
        return {n: p.reshape(flat.shape[0], *s) for n, p, s in zip(self.names, parts, self.shapes)}

    def flatten(self, module: nn.Module) -> torch.Tensor:
        return torch.cat([p.detach().reshape(-1) for _, p in module.named_parameters()])


def _choose(k: int, s: int, gen: torch.Generator) -> torch.Tensor:
    """S indices into K stored samples: every sample floor(S/K) times plus a random subset for the rest."""
    idx = [torch.arange(k).repeat(s // k)] if s >= k else []
    if s % k:
        idx.append(torch.randperm(k, generator=gen)[: s % k])
    return torch.cat(idx)


class MeanFieldVI(Posterior):
    """Mean-field Gaussian VI (Blundell et al. 2015): q(theta) = prod_i N(mu_i, sigma_i^2),
    sigma_i = softplus(rho_i), trained on the ELBO with the reparameterisation theta = mu + sigma * xi:

        loss = E_q[-log p(y_batch | x_batch, theta)] / |batch| + kl_weight * KL(q || N(0, prior_std^2)) / N

    KL(N(mu, s^2) || N(0, p^2)) = log(p/s) + (s^2 + mu^2) / (2 p^2) - 1/2 per weight. [R]
    """

    def __init__(
        self,
        arch: dict[str, Any],
        *,
        prior_std: float = 1.0,
        init_std: float = 1e-3,
        kl_weight: float = 1.0,
        seed: int | None = None,
    ):
        super().__init__(arch, seed=seed)
        self.prior_std = check_real("prior_std", prior_std, low=0.0, low_open=True)
        self.init_std = check_real("init_std", init_std, low=0.0, low_open=True)
        self.kl_weight = check_real("kl_weight", kl_weight, low=0.0)
        template = build_net(self.arch, generator=_gen(self._init_seed), batchnorm_ok=False)
        self._f = _Functional(template)
        rho0 = math.log(math.expm1(self.init_std))
        self.mu = nn.ParameterList([nn.Parameter(p.detach().clone()) for p in template.parameters()])
        self.rho = nn.ParameterList([nn.Parameter(torch.full_like(p, rho0)) for p in template.parameters()])
        for p in template.parameters():
            p.requires_grad_(False)

    def _config(self) -> dict[str, Any]:
        return {
            **super()._config(),
            "prior_std": self.prior_std,
            "init_std": self.init_std,
            "kl_weight": self.kl_weight,
        }

    def forward(self, x: torch.Tensor, n_samples: int = 1) -> torch.Tensor:
        gen = self._generator(x.device)
        params = {}
        for name, mu, rho in zip(self._f.names, self.mu, self.rho):
            xi = torch.randn((n_samples, *mu.shape), generator=gen, device=mu.device, dtype=mu.dtype)
            params[name] = mu + F.softplus(rho) * xi  # (S, *shape)
        return self._f(params, x)

    def sample_view(self, index: int = 0):
        """Posterior sample ``index`` alone, as a deterministic stochastic classifier ``f(x, n_samples)``:
        one weight draw theta = mu + softplus(rho) * xi, xi ~ N(0, I) from its own stream (the posterior's
        sampling stream and ``index``), drawn once here and held fixed, so two calls give identical logits
        (Carbone et al.'s 1-sample attack on one fixed sample; the audit's one-sample flaw)."""
        index = check_int("index", index, low=0)
        gen = _gen(_streams(self._sampler.seed, index + 1)[index])
        with torch.no_grad():
            theta = {name: (mu + F.softplus(rho) * torch.randn(mu.shape, generator=gen).to(mu.device, mu.dtype))
                     .unsqueeze(0) for name, mu, rho in zip(self._f.names, self.mu, self.rho)}

        def single(x: torch.Tensor, n_samples: int = 1) -> torch.Tensor:
            out = self._f(theta, x)  # (1, B, C)
            return out.expand(n_samples, *out.shape[1:])

        return single

    def kl(self) -> torch.Tensor:
        """KL(q || prior), summed over all weights."""
        total = 0.0
        p2 = self.prior_std**2
        for mu, rho in zip(self.mu, self.rho):
            s = F.softplus(rho)
            total = total + (math.log(self.prior_std) - torch.log(s) + (s * s + mu * mu) / (2 * p2) - 0.5).sum()
        return total

    def fit(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        *,
        epochs: int = 10,
        batch_size: int = 128,
        lr: float = 1e-3,
        device: str | torch.device = "cpu",
    ) -> MeanFieldVI:
        _check_xy(x, y)
        n = x.shape[0]

        def loss_fn(logits, yb):
            return F.cross_entropy(logits, yb) + self.kl_weight * self.kl() / n

        self.info_["final_loss"] = _train(
            _TrainView(self),
            x,
            y,
            self._fit_seed,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            loss_fn=loss_fn,
            device=device,
        )
        self.info_["kl"] = float(self.kl().detach())
        return self


class DeepEnsemble(_TrainsNet, Posterior):
    """``n_members`` nets trained independently from independent inits and data orders
    (Lakshminarayanan et al. 2017); the posterior is uniform over members. ``n_samples`` = S picks
    every member floor(S/M) times plus a random subset of the rest (S = M: each member once)."""

    def __init__(self, arch: dict[str, Any], *, n_members: int = 5, seed: int | None = None):
        super().__init__(arch, seed=seed)
        self.n_members = check_int("n_members", n_members, low=1)
        seeds = _streams(self._init_seed, self.n_members)
        self.members = nn.ModuleList([build_net(self.arch, generator=_gen(s), batchnorm_ok=False) for s in seeds])
        self._f = _Functional(build_net(self.arch, generator=_gen(0), batchnorm_ok=False))

    def _config(self) -> dict[str, Any]:
        return {**super()._config(), "n_members": self.n_members}

    def forward(self, x: torch.Tensor, n_samples: int = 1) -> torch.Tensor:
        if n_samples % self.n_members == 0:  # every member equally often: no draw needed
            params, _ = stack_module_state(list(self.members))
            out = self._f(params, x)  # (M, B, C)
            return out if n_samples == self.n_members else out.repeat(n_samples // self.n_members, 1, 1)
        idx = _choose(self.n_members, n_samples, self._generator(torch.device("cpu")))
        uniq, inverse = torch.unique(idx, return_inverse=True)
        params, _ = stack_module_state([self.members[int(i)] for i in uniq])
        return self._f(params, x)[inverse.to(x.device)]  # (S, B, C)

    def sample_view(self, index: int = 0):
        """Stored sample ``index`` alone, as a deterministic stochastic classifier ``f(x, n_samples)``
        (Carbone et al.'s code attacks the first k stored samples; the audit's 1-sample attack)."""
        index = check_int("index", index, low=0, high=self.n_members - 1)

        def single(x: torch.Tensor, n_samples: int = 1) -> torch.Tensor:
            out = self.members[index](x).unsqueeze(0)  # (1, B, C)
            return out.expand(n_samples, *out.shape[1:])

        return single

    def _trained_nets(self) -> list[tuple[nn.Module, int]]:
        return list(zip(self.members, _streams(self._fit_seed, self.n_members)))


class HMC(Posterior):
    """Full-batch HMC over all weights (Neal 2011; Izmailov et al. 2021) with a N(0, prior_std^2 I) prior:

        log pi(theta) = sum_i log softmax(f_theta(x_i))_{y_i} - |theta|^2 / (2 prior_std^2)

    sampled by :func:`hmc_sample` (leapfrog, dual-averaging step size in burn-in, thinning) from the
    MAP solution of the same objective. Stores the kept samples (K, D) in ``samples_``; ``info_`` holds
    ``accept_rate`` and ``step_size``. ``n_samples`` picks stored samples like :class:`DeepEnsemble`.
    """

    def __init__(self, arch: dict[str, Any], *, prior_std: float = 1.0, seed: int | None = None):
        super().__init__(arch, seed=seed)
        self.prior_std = check_real("prior_std", prior_std, low=0.0, low_open=True)
        template = build_net(self.arch, generator=_gen(self._init_seed), batchnorm_ok=False)
        self._f = _Functional(template)  # the template is not a submodule: samples_ hold the weights
        self.register_buffer("samples_", torch.empty(0, sum(self._f.sizes)))

    def _config(self) -> dict[str, Any]:
        return {**super()._config(), "prior_std": self.prior_std}

    def _prepare_load(self, state: dict[str, torch.Tensor]) -> None:
        self.samples_ = torch.empty_like(state["samples_"])

    @property
    def n_stored(self) -> int:
        return int(self.samples_.shape[0])

    def forward(self, x: torch.Tensor, n_samples: int = 1) -> torch.Tensor:
        if self.n_stored == 0:
            raise ValueError("HMC posterior has no samples yet: call fit() first")
        idx = _choose(self.n_stored, n_samples, self._generator(torch.device("cpu")))
        uniq, inverse = torch.unique(idx, return_inverse=True)
        params = self._f.unflatten(self.samples_[uniq.to(self.samples_.device)])
        return self._f(params, x)[inverse.to(x.device)]

    def sample_view(self, index: int = 0):
        """Stored sample ``index`` alone, as a deterministic stochastic classifier ``f(x, n_samples)``
        (Carbone et al.'s code attacks the first k stored samples; the audit's 1-sample attack)."""
        index = check_int("index", index, low=0, high=self.n_stored - 1)

        def single(x: torch.Tensor, n_samples: int = 1) -> torch.Tensor:
            out = self._f(self._f.unflatten(self.samples_[index : index + 1]), x)  # (1, B, C)
            return out.expand(n_samples, *out.shape[1:])

        return single

    def log_posterior(self, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Unnormalised log posterior of a flat weight vector theta (D,) on the full data set."""
        logits = self._f(self._f.unflatten(theta.unsqueeze(0)), x)[0]  # (N, C)
        loglik = -F.cross_entropy(logits, y, reduction="sum")
        return loglik - (theta * theta).sum() / (2 * self.prior_std**2)

    def _pretrain(self, x: torch.Tensor, y: torch.Tensor, seed: int, *, epochs: int, lr: float, batch_size: int,
                  device: str | torch.device) -> None:
        """MAP pre-training of the template (Adam, weight decay = the prior at per-example scale)."""
        if epochs <= 0:
            return
        n = x.shape[0]
        _train(self._f.template, x, y, seed, epochs=epochs, batch_size=batch_size, lr=lr, device=device,
               loss_fn=lambda out, yb: (F.cross_entropy(out, yb) + sum(
                   (p * p).sum() for p in self._f.template.parameters()) / (2 * self.prior_std**2 * n)))

    def fit(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        *,
        n_samples: int = 20,
        burn_in: int = 100,
        n_leapfrog: int = 20,
        step_size: float = 1e-3,
        thin: int = 5,
        target_accept: float = 0.8,
        init_epochs: int = 20,
        init_lr: float = 1e-3,
        batch_size: int = 128,
        n_chains: int = 1,
        device: str | torch.device = "cpu",
    ) -> HMC:
        """Pre-train the MAP (Adam, weight decay = 1/(N prior_std^2) per-example scale) for ``init_epochs``,
        then run full-batch HMC on (x, y); ``n_chains`` independent chains, each from its own initialisation
        and MAP pre-training (chain 0 from the constructor's template, the others re-initialised from their
        own streams: dispersed starts), each keeping ``n_samples`` (``samples_`` holds them chain by chain).
        ``info_`` records the acceptance, the step size and ``rhat_log_posterior``: the split-R-hat
        (:func:`split_rhat`) of the log posterior over the chains' halves (with one chain, its two halves:
        a stationarity check only; several chains also test that they forgot their starts)."""
        _check_xy(x, y)
        n_chains = check_int("n_chains", n_chains, low=1)
        x, y = x.to(device), y.to(device)
        init_seed, hmc_seed = _streams(self._fit_seed, 2)
        starts = [(None, init_seed, hmc_seed)] + [tuple(_streams(s, 3)) for s in _streams(hmc_seed, n_chains)[1:]]
        samples, log_probs, info = [], [], []
        for net_seed, pre_seed, chain_seed in starts:
            if net_seed is not None:  # a fresh initialisation of the same architecture for this chain
                self._f.template.load_state_dict(
                    build_net(self.arch, generator=_gen(net_seed), batchnorm_ok=False).state_dict())
            self._pretrain(x, y, pre_seed, epochs=init_epochs, lr=init_lr, batch_size=batch_size, device=device)
            res = hmc_sample(lambda th: self.log_posterior(th, x, y), self._f.flatten(self._f.template).to(device),
                             n_samples=n_samples, burn_in=burn_in, n_leapfrog=n_leapfrog, step_size=step_size,
                             thin=thin, target_accept=target_accept, generator=_gen(chain_seed, device))
            samples.append(res.samples.detach())
            log_probs.append(res.log_probs)
            info.append((res.accept_rate, res.step_size, res.burn_in_accept_rate))
        self.samples_ = torch.cat(samples)
        lp = torch.stack(log_probs)  # (chains, n_samples)
        self.info_.update({"accept_rate": float(np.mean([i[0] for i in info])), "step_size": info[0][1],
                           "burn_in_accept_rate": float(np.mean([i[2] for i in info])),
                           "mean_log_posterior": float(lp.mean()), "n_chains": float(n_chains)})
        if n_samples >= 4:
            self.info_["rhat_log_posterior"] = split_rhat(lp)
        return self

    @torch.no_grad()
    def rhat_predictive(self, x: torch.Tensor, y: torch.Tensor) -> float:
        """Largest split-R-hat over the inputs of p(y_i | x_i, theta) across the stored samples (chains as in
        ``fit``): a function-space mixing diagnostic (Izmailov et al. 2021 report R-hat on predictions).
        NaN with fewer than 4 samples per chain. Draws nothing at random."""
        _check_xy(x, y)
        chains = int(self.info_.get("n_chains", 1))
        per = self.n_stored // chains
        if per < 4:
            return float("nan")
        p = F.softmax(self._f(self._f.unflatten(self.samples_), x), -1)  # (K, B, C)
        py = p.gather(2, y.view(1, -1, 1).expand(p.shape[0], -1, 1)).squeeze(2)  # (K, B)
        py = py.reshape(chains, per, -1)
        return float(max(split_rhat(py[:, :, i]) for i in range(py.shape[2])))


def load_posterior(path: str | Path, *, map_location: str | torch.device = "cpu") -> Posterior:
    """Load any saved posterior (the class is read from the file; safe ``weights_only`` loading)."""
    return Posterior.load(path, map_location=map_location)
