"""Non-overlapping pooling as strided slices (``collapselab.nn.AvgPool2d`` / ``MaxPool2d``) against
PyTorch's pooling kernels, at the shapes of the papers' nets, one run.

    .venv/bin/python benchmarks/pool_speed.py [--batch 1000] [--repeats 20] [--threads 1] [--smoke]

1. Each pooling layer alone, gradients off, on the feature maps it meets: LeNet's two max pools
   (channels-last, as certification runs the fused nets, and contiguous), the instance-norm ConvNet's
   average pools (contiguous), attacking-bayes' 2x2 input pool of 28 x 28 images; time per call of the
   library kernel and of the slices, their ratio, and whether the outputs are equal bit for bit.
2. Whole forward passes of ``--batch`` noisy copies, as certification runs them: LeNet (fused for
   inference, channels-last) and the width-8 instance-norm ConvNet, with the library's layers swapped in
   for the same weights: time ratio and equality of the logits.
"""

from __future__ import annotations

import argparse
import copy
import time

import torch
from torch import nn

from collapselab.nn import AvgPool2d, ConvNet, LeNet, MaxPool2d, fused_for_inference


def per_call(fn, x, repeats: int) -> float:
    """Best-of-3 mean seconds of ``repeats`` calls (one warm-up call first)."""
    fn(x)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(repeats):
            fn(x)
        best = min(best, (time.perf_counter() - t0) / repeats)
    return best


def with_library_pools(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose block pools are torch's own layers (same configuration)."""
    out = copy.deepcopy(model)
    for name, mod in list(out.named_modules()):
        if isinstance(mod, (AvgPool2d, MaxPool2d)):
            lib = (nn.AvgPool2d if isinstance(mod, AvgPool2d) else nn.MaxPool2d)(mod.kernel_size)
            parent, _, leaf = name.rpartition(".")
            setattr(out.get_submodule(parent) if parent else out, leaf, lib)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=1000, help="noisy copies per forward (certification's batch)")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes: a few seconds")
    args = ap.parse_args(argv)
    if args.smoke:
        args.batch, args.repeats = 16, 2
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    b = args.batch
    cl = torch.channels_last

    def maps(c, h, fmt=torch.contiguous_format):
        return torch.relu(torch.randn(b, c, h, h, generator=g)).contiguous(memory_format=fmt)

    cases = [
        ("LeNet max pool 1, channels-last", MaxPool2d(2), nn.MaxPool2d(2), maps(6, 28, cl)),
        ("LeNet max pool 2, channels-last", MaxPool2d(2), nn.MaxPool2d(2), maps(16, 10, cl)),
        ("LeNet max pool 1, contiguous", MaxPool2d(2), nn.MaxPool2d(2), maps(6, 28)),
        ("ConvNet-w8 avg pool 1, contiguous", AvgPool2d(2), nn.AvgPool2d(2), maps(8, 28)),
        ("ConvNet-w8 avg pool 2, contiguous", AvgPool2d(2), nn.AvgPool2d(2), maps(8, 14)),
        ("input avg pool 28 -> 14", AvgPool2d(2), nn.AvgPool2d(2), torch.rand(b, 1, 28, 28, generator=g)),
    ]
    print(f"batch={b} threads={args.threads}; ms per call (best of 3 x {args.repeats}); ratio = library / slices")
    print(f"{'layer':<36}{'library':>9}{'slices':>9}{'ratio':>8}  equal")
    with torch.no_grad():
        for name, ours, lib, x in cases:
            t_lib, t_ours = per_call(lib, x, args.repeats), per_call(ours, x, args.repeats)
            print(f"{name:<36}{1e3 * t_lib:>9.2f}{1e3 * t_ours:>9.2f}{t_lib / t_ours:>7.2f}x  "
                  f"{torch.equal(lib(x), ours(x))}")

        torch.manual_seed(0)  # benchmark-only: deterministic module init
        nets = {"LeNet, fused, channels-last": fused_for_inference(LeNet(1, 10)),
                "ConvNet-w8 (instance norm)": ConvNet(1, 10, width=8, depth=3, norm="instance").eval()}
        noisy = torch.rand(b, 1, 28, 28, generator=g) + 0.5 * torch.randn(b, 1, 28, 28, generator=g)
        print(f"\n{'forward of the noisy copies':<36}{'library':>9}{'slices':>9}{'ratio':>8}  equal")
        for name, net in nets.items():
            ref = with_library_pools(net)
            x = noisy.contiguous(memory_format=cl) if "channels-last" in name else noisy
            t_lib, t_ours = per_call(ref, x, args.repeats), per_call(net, x, args.repeats)
            print(f"{name:<36}{1e3 * t_lib:>9.2f}{1e3 * t_ours:>9.2f}{t_lib / t_ours:>7.2f}x  "
                  f"{torch.equal(ref(x), net(x))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
