"""Decoding throughput of linear attention (recurrent state) and sparse attention (the allowed keys of a
preallocated cache, block B = round(sqrt(L))) against softmax attention (KV cache).

For each context length L in 256..8192, decode with a 2-layer model and time the tokens generated at
context ~L: tokens per second for each mechanism, the ratios to softmax, the crossover length (the first L
where linear attention is faster), and the memory of the decoding state (KV cache grows as 2 L D per
layer; the recurrent state is D^2/h + D per layer, constant).

Run: ``python benchmarks/attention_scaling.py [--width 64] [--lengths 256,512,...]``.
"""

from __future__ import annotations

import argparse
import math

import torch

from collapselab.reasoning import decode_time_per_token


def state_bytes(attention: str, width: int, length: int, n_layers: int, n_heads: int, itemsize: int = 4) -> int:
    if attention == "softmax":
        return n_layers * 2 * length * width * itemsize
    return n_layers * (width * width // n_heads + width) * itemsize


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=2)
    ap.add_argument("--lengths", default="256,512,1024,2048,4096,8192")
    ap.add_argument("--measure", type=int, default=32, help="decoding steps timed per length")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    lengths = [int(x) for x in args.lengths.split(",")]
    torch.set_num_threads(1)
    print(f"width {args.width}, {args.layers} layers, {args.heads} heads, device {args.device}")
    print(f"{'L':>6} {'softmax tok/s':>14} {'linear tok/s':>13} {'linear/softmax':>15} {'sparse/softmax':>15} "
          f"{'KV cache':>10} {'linear state':>13}")
    crossover = None
    for L in lengths:
        kw = dict(n_layers=args.layers, n_heads=args.heads, measure=args.measure, device=args.device)
        soft = 1.0 / decode_time_per_token("softmax", args.width, L, **kw)
        lin = 1.0 / decode_time_per_token("linear", args.width, L, **kw)
        sparse = 1.0 / decode_time_per_token("sparse", args.width, L, attn_kwargs={"block": round(math.sqrt(L))},
                                             **kw)
        if crossover is None and lin > soft:
            crossover = L
        kv = state_bytes("softmax", args.width, L, args.layers, args.heads)
        st = state_bytes("linear", args.width, L, args.layers, args.heads)
        print(f"{L:>6} {soft:>14.0f} {lin:>13.0f} {lin / soft:>15.2f} {sparse / soft:>15.2f} {kv / 1024:>8.0f}KB "
              f"{st / 1024:>11.1f}KB")
    print(f"crossover: linear attention decodes faster from L = {crossover}" if crossover
          else "crossover: none in this range (softmax with a KV cache stays faster)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
