"""Benchmark: the mixture-ridge deterministic equivalent against the Monte Carlo it replaces (paper 1).

Prints, from one run on this machine (times are CPU seconds of this process, so a loaded machine does
not distort the ratios):

1. d = 1000 (power-law spectrum), one point: CPU time of ``mixture_ridge_error`` vs the Monte Carlo
   ``simulate_mixture_ridge`` needed to reach the same accuracy. "Same accuracy" = a Monte Carlo standard
   error equal to the measured |MC - theory| gap of the deterministic equivalent at this d (at least 0.5%
   of the error); the replicates needed are extrapolated from the measured per-replicate cost and spread.
   Goal: >= 1000x.
2. d = 10^4: a 50-point curve in n. Goal: < 50 ms.

Usage: ``python benchmarks/regression_theory.py [--reps 40]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from collapselab.regression import mixture_ridge_error, power_law_spectrum, simulate_mixture_ridge


def _problem(d: int):
    eigs = power_law_spectrum(d, 1.5)
    j = np.arange(1, d + 1)
    w1 = np.sqrt(j**-1.5 / np.sum(j**-1.5) / eigs)
    return eigs, w1, w1 * (1 + np.where(j % 2 == 0, 1.0, -1.0) * 0.5)


def _cpu(fn, repeat: int = 5) -> tuple[float, object]:
    best, out = np.inf, None
    for _ in range(repeat):
        t = time.process_time()
        out = fn()
        best = min(best, time.process_time() - t)
    return best, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=40, help="Monte Carlo replicates measured at d = 1000")
    args = ap.parse_args(argv)

    d, n, p2, lam, s = 1000, 2000, 0.3, 1e-3, 0.5
    eigs, w1, w2 = _problem(d)
    t_theory, theory = _cpu(lambda: mixture_ridge_error(eigs, w1, w2, n, p2, lam, s))
    t0 = time.process_time()
    mc = simulate_mixture_ridge(eigs, w1, w2, n, p2, lam, s, reps=args.reps, rng=0)
    t_mc = time.process_time() - t0
    per_rep = t_mc / args.reps
    sd = mc.se * np.sqrt(args.reps)
    target = max(abs(mc.mean - theory), 0.005 * theory)
    reps_needed = max(2, int(np.ceil((sd / target) ** 2)))
    print(f"[1] d={d}, n={n}, p2={p2}, lam={lam}: theory {theory:.5f}, MC {mc.mean:.5f} +- {mc.se:.5f} "
          f"({args.reps} reps)")
    print(f"    theory CPU {t_theory * 1e3:.2f} ms; MC {per_rep * 1e3:.1f} ms/replicate; same accuracy "
          f"(stderr {target:.2e}) needs ~{reps_needed} replicates = {per_rep * reps_needed:.2f} s")
    print(f"    speed-up: {per_rep * reps_needed / t_theory:,.0f}x (goal >= 1000x)")

    d = 10**4
    eigs, w1, w2 = _problem(d)
    ns = np.geomspace(100, 1e6, 50)
    for lam in (1e-3, 0.0):
        t_curve, curve = _cpu(lambda lam=lam: mixture_ridge_error(eigs, w1, w2, ns, p2, lam, s))
        finite = int(np.isfinite(curve).sum())
        print(f"[2] d={d}, 50-point curve in n, lam={lam:g}: {t_curve * 1e3:.1f} ms CPU "
              f"({finite}/50 finite; goal < 50 ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
