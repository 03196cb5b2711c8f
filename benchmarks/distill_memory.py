"""Outer-step time and peak memory against unroll length T: full BPTT (M = T) vs RaT-BPTT (fixed M).

One run, same data, network and generator seed for both methods; prints a table and the ratios BPTT /
RaT-BPTT next to T/M. Memory is the bytes of the tensors the autograd graph saves in one outer step
(deterministic, any device); on CUDA also torch.cuda.max_memory_allocated.

    .venv/bin/python benchmarks/distill_memory.py                      # digits, MLP, CPU
    .venv/bin/python benchmarks/distill_memory.py --model convnet --dataset mnist --device cuda
"""

from __future__ import annotations

import argparse
import functools
import time

import numpy as np
import torch

from collapselab.data import load_digits, load_mnist_subset
from collapselab.distill import GraphMemory, fresh_model, meta_loss, window
from collapselab.nn import MLP, ConvNet


def build(model: str, shape: tuple[int, ...], width: int) -> torch.nn.Module:
    if model == "mlp":
        return MLP(int(np.prod(shape)), [width], 10)
    return ConvNet(shape[0], 10, image_size=shape[-1], width=width, depth=2, norm="instance")


def outer_step(method, T, M, x_syn, y_syn, x_real, y_real, model_fn, g, device, real_batch):
    net = fresh_model(model_fn, g, device)
    n_untracked, n_tracked = window(method, T, M, g)
    idx = torch.randperm(len(x_real), generator=g)[:real_batch].to(device)
    x = x_syn.detach().clone().requires_grad_()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    c0, w0 = time.process_time(), time.perf_counter()
    mem = GraphMemory()  # counts the tracked steps and the outer forward, not the untracked steps
    loss = meta_loss(net, x, y_syn, x_real[idx], y_real[idx], n_untracked=n_untracked, n_tracked=n_tracked,
                     memory=mem)
    torch.autograd.grad(loss, x)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    cuda_peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else float("nan")
    return time.process_time() - c0, time.perf_counter() - w0, mem.bytes / 2**20, cuda_peak, n_untracked


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="digits", choices=["digits", "mnist"])
    ap.add_argument("--model", default="mlp", choices=["mlp", "convnet"])
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--ipc", type=int, default=10)
    ap.add_argument("--M", type=int, default=10)
    ap.add_argument("--Ts", default="10,20,40,80")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--real-batch", type=int, default=256)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    s = load_digits() if args.dataset == "digits" else load_mnist_subset()
    shape = s.x_train.shape[1:]
    model_fn = functools.partial(build, args.model, shape, args.width)
    x_real, y_real = (torch.as_tensor(a, device=device) for a in (s.x_train, s.y_train))
    g = torch.Generator().manual_seed(0)
    x_syn = torch.randn(10 * args.ipc, *shape, generator=g).to(device)
    y_syn = torch.arange(10).repeat(args.ipc).to(device)
    Ts = [int(t) for t in args.Ts.split(",")]
    print(f"{args.dataset} {args.model} width {args.width}, IPC {args.ipc}, RaT-BPTT window M = {args.M}, "
          f"device {device}, median of {args.repeats} outer steps (torch threads {torch.get_num_threads()})")
    print(f"{'T':>5} {'method':>9} {'cpu s':>8} {'wall s':>8} {'graph MiB':>10} {'cuda MiB':>9}   "
          f"{'BPTT/RaT: cpu':>13} {'graph':>6} {'T/M':>5}")
    for T in Ts:
        rows = {}
        for method in ("bptt", "rat_bptt"):
            M = T if method == "bptt" else min(args.M, T)
            runs = [outer_step(method, T, M, x_syn, y_syn, x_real, y_real, model_fn, g, device,
                               args.real_batch) for _ in range(args.repeats)]
            cpu, wall, graph, cuda, _ = (float(np.median(c)) for c in zip(*runs))
            rows[method] = (cpu, wall, graph, cuda)
            print(f"{T:>5} {method:>9} {cpu:>8.3f} {wall:>8.3f} {graph:>10.2f} {cuda:>9.1f}", end="")
            if method == "rat_bptt":
                b = rows["bptt"]
                print(f"   {b[0] / cpu:>13.2f} {b[2] / graph:>6.2f} {T / min(args.M, T):>5.2f}")
            else:
                print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
