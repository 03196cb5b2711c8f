"""Achieved FLOP/s of the slow experiments' training loops against this machine's matmul rate at their sizes.

For each training loop (min-width, eigenvalues, gcd-grokking decoders; the sween ``mlp`` candidate and
the attacking-bayes MLP) it times optimiser steps at the experiment's quick shapes (one thread), counts
the step's FLOPs from the shapes, and times a plain ``torch.mm`` at the loop's largest matmul
(M = rows per step, K x N = the widest weight), in the same run. FLOPs per step: a decoder,
6 x (non-embedding parameters + vocabulary head) x tokens (forward 2, backward 4 per weight and token;
attention scores are left out, under 10% at these lengths); an MLP, exactly
2 B sum_l (in_l out_l) forward, the same for weight gradients, and 2 B sum_{l > 1} (in_l out_l) for
input gradients. Prints each loop's fraction of the matmul rate, one after another and with K = 8
replicates trained together (:mod:`collapselab.nn.batched`), and says why a shape stays under 30%.

Run: ``python benchmarks/roofline.py [--steps 30] [--smoke]``.
"""

from __future__ import annotations

import argparse
import time
import warnings

import torch

from collapselab.nn import MLP, DecoderLM, fit, train_decoder
from collapselab.nn.batched import decoder_replicates, fit_replicates


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def matmul_rate(m: int, k: int, n: int, repeat: int) -> float:
    """FLOP/s of (m, k) @ (k, n), best of ``repeat`` timings of enough products to last ~20 ms."""
    a, b = torch.randn(m, k), torch.randn(k, n)
    reps = max(1, int(2e7 / (2 * m * k * n + 1)))
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(reps):
            torch.mm(a, b)
        best = min(best, (time.perf_counter() - t) / reps)
    return 2 * m * k * n / best


def decoder_loop(vocab: int, T: int, d: int, layers: int, heads: int, batch: int, steps: int,
                 K: int) -> tuple[float, float, float, tuple[int, int, int]]:
    """(FLOPs per step, seconds per step one by one, seconds per replicate-step batched, matmul shape)."""
    tokens = torch.randint(0, vocab, (1000, T), generator=_gen(0))
    mask = torch.ones(1000, T - 1, dtype=torch.bool)

    def make(seed: int) -> DecoderLM:
        return DecoderLM(vocab, d_model=d, n_layers=layers, n_heads=heads, max_len=T, generator=_gen(seed))

    model = make(0)
    n = sum(p.numel() for name, p in model.named_parameters() if name not in ("tok.weight", "pos.weight"))
    t = time.perf_counter()
    train_decoder(model, tokens, mask, steps=steps, batch_size=batch, generator=_gen(1))
    seq = (time.perf_counter() - t) / steps
    t = time.perf_counter()
    decoder_replicates(make, list(range(K)), tokens, mask, generators=[_gen(s) for s in range(K)], steps=steps,
                       batch_size=batch)
    return 6.0 * n * batch * T, seq, (time.perf_counter() - t) / (steps * K), (batch * T, d, 4 * d)


def mlp_loop(sizes: list[int], batch: int, steps: int, K: int) -> tuple[float, float, float, tuple[int, int, int]]:
    x, y = torch.randn(batch * steps, sizes[0], generator=_gen(0)), torch.randint(0, sizes[-1], (batch * steps,))
    pairs = list(zip(sizes[:-1], sizes[1:]))
    flops = 2 * batch * (2 * sum(a * b for a, b in pairs) + sum(a * b for a, b in pairs[1:]))

    def make(seed: int) -> MLP:
        torch.manual_seed(seed)
        return MLP(sizes[0], sizes[1:-1], sizes[-1])

    t = time.perf_counter()
    fit(make(0), x, y, epochs=1, batch_size=batch, generator=_gen(1))
    seq = (time.perf_counter() - t) / steps
    t = time.perf_counter()
    fit_replicates(make, list(range(K)), x, y, generators=[_gen(s) for s in range(K)], epochs=1, batch_size=batch)
    widest = max(pairs, key=lambda p: p[0] * p[1])
    return flops, seq, (time.perf_counter() - t) / (steps * K), (batch, *widest)


def _why(frac: float, mm: tuple[int, int, int]) -> str:
    if frac >= 0.3:
        return ""
    m, k, n = mm
    return (f"under 30%: matmuls of {m}x{k}x{n} last microseconds, so the fixed cost of each of the step's "
            "~100-300 small ops (dispatch, autograd, optimiser, layer norm, softmax) dominates")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes: a few seconds")
    args = ap.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore", UserWarning)
    steps, K = (2, 2) if args.smoke else (args.steps, 8)
    loops = {  # the experiments' quick shapes (see each experiment's params and presets)
        "efficient-transformers/min-width w16 (L=20, b64)": lambda: decoder_loop(16, 20, 16, 2, 2, 64, steps, K),
        "efficient-transformers/min-width w48 (L=20, b64)": lambda: decoder_loop(16, 20, 48, 2, 2, 64, steps, K),
        "beyond-collapse/eigenvalues w48 (T=26, b32)": lambda: decoder_loop(22, 26, 48, 2, 4, 32, steps, K),
        "tale-of-tails/gcd-grokking": lambda: decoder_loop(*_gcd_shape(), steps, K),
        "sween/certify mlp 784-256-10 (b128)": lambda: mlp_loop([784, 256, 10], 128, steps, K),
        "attacking-bayes MLP 196-32-10 (b128)": lambda: mlp_loop([196, 32, 10], 128, steps, K),
    }
    if args.smoke:
        loops = {k: v for k, v in loops.items() if "w16" in k or "attacking" in k}
    decoder_loop(5, 4, 8, 1, 2, 4, 1, 2), mlp_loop([8, 4, 2], 4, 1, 2)  # warm-up: first calls pay torch's set-up
    print(f"one thread; batched = K={K} replicates together; rate = achieved / torch.mm at the loop's matmul")
    print(f"{'training loop':50s} {'MFLOP/step':>10s} {'mm GF/s':>8s} {'seq GF/s':>8s} {'seq %':>6s} "
          f"{'bat GF/s':>8s} {'bat %':>6s}  ratio")
    for name, loop in loops.items():
        flops, seq, bat, mm = loop()
        rate = matmul_rate(*mm, repeat=2 if args.smoke else 5)
        f_seq, f_bat = flops / seq / rate, flops / bat / rate
        print(f"{name:50s} {flops / 1e6:10.2f} {rate / 1e9:8.2f} {flops / seq / 1e9:8.2f} {100 * f_seq:5.1f}% "
              f"{flops / bat / 1e9:8.2f} {100 * f_bat:5.1f}%  ratio {seq / bat:.2f}x batched/sequential")
        if why := _why(max(f_seq, f_bat), mm):
            print(f"    {why}")


def _gcd_shape() -> tuple[int, int, int, int, int, int]:
    """(vocab, T, d_model, n_layers, n_heads, batch) of gcd-grokking's quick preset."""
    from collapselab.core import all_experiments, resolve_params
    from collapselab.zipf import GCDTask

    exp = all_experiments()["tale-of-tails/gcd-grokking"]
    p = resolve_params(exp.params, exp.presets, "quick")
    task = GCDTask(p.base, p.max_int)
    return int(task.vocab_size), task.seq_len - 1, p.d_model, p.n_layers, p.n_heads, p.batch_size


if __name__ == "__main__":
    main()
