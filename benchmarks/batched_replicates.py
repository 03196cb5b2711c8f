"""K replicates of one small model trained together (:mod:`collapselab.nn.batched`) against one after another.

The shapes are the experiments' own: the attacking-bayes MLP (196 -> 32 -> 10, Adam, batch 128), the sween
``mlp`` candidate (784 -> 256 -> 10, Adam, batch 128), the min-width decoder (LIS at L = 20, 2 layers, 2 heads,
widths 16 and 48, AdamW, batch 64) and the eigenvalues decoder (width 48, 2 layers, 4 heads, batch 32); and
attacking-bayes' deep ensemble as its experiments fit it (5 members, ``DeepEnsemble.fit`` against
``fit(together=True)``). Both arms take the same steps on one thread (``torch.set_num_threads(1)``); the
sequential arm is the project's own path (:func:`collapselab.nn.fit`, :func:`collapselab.nn.train_decoder`).
Prints the seconds of each arm (the best of ``--repeats`` timings, so that other work on the cores inflates
neither) and the ratio sequential / batched (goal: >= 3x).

Run: ``python benchmarks/batched_replicates.py [--replicates 8] [--steps 60] [--repeats 3] [--smoke]``.
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


def mlp_case(sizes: tuple[int, int, int], batch: int, steps: int, K: int) -> tuple[float, float]:
    n_in, hidden, n_out = sizes
    x, y = torch.randn(batch * steps, n_in, generator=_gen(0)), torch.randint(0, n_out, (batch * steps,))

    def make(seed: int) -> MLP:
        torch.manual_seed(seed)
        return MLP(n_in, [hidden], n_out)

    t0 = time.perf_counter()
    for s in range(K):
        fit(make(s), x, y, epochs=1, batch_size=batch, weight_decay=1e-4, generator=_gen(100 + s))
    t1 = time.perf_counter()
    fit_replicates(make, list(range(K)), x, y, generators=[_gen(100 + s) for s in range(K)], epochs=1,
                   batch_size=batch, weight_decay=1e-4)
    return t1 - t0, time.perf_counter() - t1


def decoder_case(vocab: int, T: int, width: int, heads: int, batch: int, steps: int, K: int,
                 prompt: int) -> tuple[float, float]:
    tokens = torch.randint(0, vocab, (2000, T), generator=_gen(1))
    mask = torch.zeros(2000, T - 1, dtype=torch.bool)
    mask[:, prompt - 1:] = True  # the answer tokens are learned

    def make(seed: int) -> DecoderLM:
        return DecoderLM(vocab, d_model=width, n_layers=2, n_heads=heads, max_len=T, generator=_gen(seed))

    t0 = time.perf_counter()
    for s in range(K):
        train_decoder(make(s), tokens, mask, steps=steps, batch_size=batch, lr=3e-3, generator=_gen(100 + s))
    t1 = time.perf_counter()
    decoder_replicates(make, list(range(K)), tokens, mask, generators=[_gen(100 + s) for s in range(K)],
                       steps=steps, batch_size=batch, lr=3e-3)
    return t1 - t0, time.perf_counter() - t1


def ensemble_case(n_train: int, epochs: int, members: int) -> tuple[float, float]:
    """attacking-bayes' deep ensemble as the experiments train it (MLP 196-32-10, Adam, batch 128): its
    members one after another (``DeepEnsemble.fit``) against ``fit(together=True)``."""
    from collapselab.bayes import DeepEnsemble

    arch = {"kind": "mlp", "in_features": 196, "hidden": [32], "out_features": 10}
    x, y = torch.randn(n_train, 196, generator=_gen(0)), torch.randint(0, 10, (n_train,), generator=_gen(1))
    kw = {"epochs": epochs, "batch_size": 128, "lr": 1e-3, "weight_decay": 1e-4}
    t0 = time.perf_counter()
    DeepEnsemble(arch, n_members=members, seed=0).fit(x, y, **kw)
    t1 = time.perf_counter()
    DeepEnsemble(arch, n_members=members, seed=0).fit(x, y, **kw, together=True)
    return t1 - t0, time.perf_counter() - t1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicates", type=int, default=8)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=3, help="timings of each arm; the best is reported")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes: a few seconds")
    args = ap.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore", UserWarning)
    K, steps = (2, 3) if args.smoke else (args.replicates, args.steps)
    repeats = 1 if args.smoke else max(1, args.repeats)
    cases = {
        "attacking-bayes MLP 196-32-10, batch 128": lambda: mlp_case((196, 32, 10), 128, steps, K),
        "sween mlp 784-256-10, batch 128": lambda: mlp_case((784, 256, 10), 128, steps, K),
        "min-width decoder w16 L20, batch 64": lambda: decoder_case(16, 20, 16, 2, 64, steps, K, 9),
        "min-width decoder w48 L20, batch 64": lambda: decoder_case(16, 20, 48, 2, 64, steps, K, 9),
        "eigenvalues decoder w48, batch 32": lambda: decoder_case(22, 26, 48, 4, 32, steps, K, 16),
        "attacking-bayes deep ensemble (5 members, 4k x 20 epochs)": lambda: ensemble_case(
            4000 if not args.smoke else 256, 20 if not args.smoke else 1, 5),
    }
    if args.smoke:
        cases = {name: cases[name] for name in list(cases)[::2] + list(cases)[-1:]}
    mlp_case((8, 4, 2), 4, 1, 2), decoder_case(5, 4, 8, 2, 4, 1, 2, 2)  # warm-up: first calls pay torch's set-up
    print(f"K = {K} replicates, {steps} steps each, 1 thread, best of {repeats}")
    print(f"{'model':58s} {'one by one s':>13s} {'batched s':>10s} {'ratio':>7s}")
    for name, case in cases.items():
        seq, bat = map(min, zip(*(case() for _ in range(repeats))))
        print(f"{name:58s} {seq:13.2f} {bat:10.2f} {seq / bat:6.2f}x")


if __name__ == "__main__":
    main()
