"""Adversarial examples per second of collapselab's ``pgd`` (EOT over the posterior predictive) on a
5-member deep ensemble (best iterate kept, and the plain last iterate), against torchattacks' EOTPGD on
the same model (when torchattacks is installed) and against a straightforward per-sample loop, in one run.

Both competitors attack the same objective: the cross-entropy of log p_bar (the ensemble wrapped so its
"logits" are log p_bar, which torchattacks' CE then leaves unchanged), L-inf eps=0.3, step 0.01,
``--steps`` steps, random start. Timings are process CPU time (the machine is shared) and wall time.

    python benchmarks/attack_throughput.py [--batch 256] [--steps 20] [--repeats 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from collapselab.bayes import DeepEnsemble, predictive_log_probs, robust_accuracy
from collapselab.bayes.attacks import pgd
from collapselab.data import load_mnist_subset


class LogPredictive(nn.Module):
    """The ensemble as a plain classifier whose logits are log p_bar (for torchattacks)."""

    def __init__(self, model, n_samples: int):
        super().__init__()
        self.model, self.n_samples = model, n_samples

    def forward(self, x):
        return predictive_log_probs(self.model, x, self.n_samples)


def _time(fn, repeats: int):
    best_cpu, best_wall, out = float("inf"), float("inf"), None
    for _ in range(repeats):
        c, w = time.process_time(), time.perf_counter()
        out = fn()
        best_cpu, best_wall = min(best_cpu, time.process_time() - c), min(best_wall, time.perf_counter() - w)
    return best_cpu, best_wall, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--loop-size", type=int, default=32, help="inputs timed in the per-sample loop")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    torch.manual_seed(0)  # torchattacks draws its random start from the global RNG (script only)

    d = load_mnist_subset()
    xtr, ytr, xte, yte = d.torch()
    arch = {"kind": "mlp", "in_features": 784, "hidden": [256, 256], "out_features": 10}
    ens = DeepEnsemble(arch, n_members=5, seed=0).fit(xtr[:1000], ytr[:1000], epochs=1, device=args.device)
    ens.to(args.device).eval()
    x, y = xte[: args.batch].to(args.device), yte[: args.batch].to(args.device)
    kw = dict(eps=0.3, steps=args.steps, step_size=0.01, n_samples=5)

    rows = []
    cpu, wall, adv = _time(lambda: pgd(ens, x, y, generator=0, **kw), args.repeats)
    rows.append(("collapselab pgd (batched, vmap over members)", len(x), cpu, wall, robust_accuracy(ens, adv, y, 5)))
    cpu, wall, adv = _time(lambda: pgd(ens, x, y, generator=0, keep="last", **kw), args.repeats)
    rows.append(("collapselab pgd, last iterate (no best tracking)", len(x), cpu, wall,
                 robust_accuracy(ens, adv, y, 5)))
    try:
        import torchattacks

        atk = torchattacks.EOTPGD(
            LogPredictive(ens, 5), eps=0.3, alpha=0.01, steps=args.steps, eot_iter=1, random_start=True
        )
        cpu, wall, adv = _time(lambda: atk(x, y), args.repeats)
        rows.append(
            (
                f"torchattacks {torchattacks.__version__} EOTPGD (eot_iter=1, exact)",
                len(x),
                cpu,
                wall,
                robust_accuracy(ens, adv, y, 5),
            )
        )
    except ImportError:
        rows.append(("torchattacks not installed", 0, float("nan"), float("nan"), float("nan")))
    m = min(args.loop_size, len(x))

    def loop():
        return torch.cat([pgd(ens, x[i : i + 1], y[i : i + 1], generator=i, **kw) for i in range(m)])

    cpu, wall, adv = _time(loop, 1)
    rows.append(("per-sample loop of collapselab pgd", m, cpu, wall, robust_accuracy(ens, adv, y[:m], 5)))

    base = rows[0][1] / rows[0][2]
    print(
        f"PGD L-inf eps=0.3, {args.steps} steps, 5-member ensemble MLP 784-256-256-10, device={args.device}, "
        f"torch threads={torch.get_num_threads()}"
    )
    print(f"{'method':58s} {'n':>5s} {'ex/s (cpu)':>11s} {'ex/s (wall)':>11s} {'ours/this':>9s} {'rob.acc':>7s}")
    for name, n, cpu, wall, acc in rows:
        if n == 0:
            print(name)
            continue
        print(f"{name:58s} {n:5d} {n / cpu:11.1f} {n / wall:11.1f} {base / (n / cpu):9.2f} {acc:7.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
