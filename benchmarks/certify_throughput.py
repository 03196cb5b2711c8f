"""Throughput of CERTIFY and the work saved by adaptive SWEEN prediction, measured side by side.

1. Noise samples per second through the base classifier for
   * ``reference``: a straightforward per-image loop in the style of Cohen et al.'s release
     (``x.repeat`` per batch, ``randn_like`` noise, votes counted with numpy on the host);
   * ``Smooth.certify``: one image at a time (noise drawn on the model's device, votes counted there);
   * ``Smooth.certify_batch``: all images at once, noisy copies of several images sharing a batch.
2. Fused members (:func:`collapselab.nn.fused_for_inference`: batch norm folded into the convolutions,
   channels-last) against the members as the experiments held them before (channels-last, unfused): the
   forward time of one batch of noisy copies per member, their ratio and the largest output difference.
3. Adaptive SWEEN (the release's rule, and the exact "bound" rule) against the full ensemble on the same
   noise: member evaluations, time, and whether the certificates agree; and the full ensemble certified
   with fused members (``SWEEN.for_inference``) on the same noise: time ratio and agreement.

Usage:  python benchmarks/certify_throughput.py [--images 20] [--n 2000] [--device cpu] [--smoke]
Run with OMP_NUM_THREADS=1 on a shared machine; ratios are what counts, not absolute rates.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from scipy import stats

from collapselab.data import load_mnist_subset
from collapselab.nn import MLP, ConvNet, LeNet, fused_for_inference
from collapselab.smoothing import SWEEN, AdaptiveSWEEN, Smooth, train_with_noise


def reference_certify(model, x, n0, n, alpha, sigma, batch_size, num_classes):
    """Cohen et al.'s CERTIFY written plainly, one image, host-side counting."""

    def counts(num):
        c = np.zeros(num_classes, dtype=int)
        with torch.no_grad():
            remaining = num
            while remaining > 0:
                b = min(batch_size, remaining)
                batch = x.repeat((b, 1, 1, 1))
                noise = torch.randn_like(batch) * sigma
                pred = model(batch + noise).argmax(1)
                c += np.bincount(pred.cpu().numpy(), minlength=num_classes)
                remaining -= b
        return c

    c_a = int(counts(n0).argmax())
    n_a = int(counts(n)[c_a])
    p_lower = stats.beta.ppf(alpha, n_a, n - n_a + 1) if n_a > 0 else 0.0
    return (c_a, sigma * stats.norm.ppf(p_lower)) if p_lower > 0.5 else (-1, 0.0)


def sync(device):
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn, device):
    sync(device)
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    sync(device)
    return out, time.perf_counter() - t0, time.process_time() - c0


def throughput(name, model, xs, args, samples, dev) -> None:
    smooth = Smooth(model, 10, args.sigma)
    a = (args.n0, args.n, args.alpha)

    def ref_fn():
        return [reference_certify(model, x[None], *a, args.sigma, args.batch, 10) for x in xs]

    def one_fn():
        return [smooth.certify(x, *a, args.batch, generator=0) for x in xs]

    def all_fn():
        return smooth.certify_batch(xs, *a, args.batch, generator=0)

    all_fn()  # warm-up (first forward passes allocate)
    _, w_ref, c_ref = timed(ref_fn, dev)
    for label, fn in [("reference loop", None), ("Smooth.certify", one_fn),
                      ("Smooth.certify_batch", all_fn)]:
        w, c = (w_ref, c_ref) if fn is None else timed(fn, dev)[1:]
        print(f"{name:10s} {label:22s} {samples / w:17,.0f} {samples / c:16,.0f} {c_ref / c:12.2f}x")


def fused_ratio(name, model, xs, args, dev) -> None:
    """Forward time of one batch of noisy copies: unfused channels-last vs fused, interleaved, best of 5."""
    plain = model.to(dev).eval().to(memory_format=torch.channels_last)
    fused = fused_for_inference(plain)
    x = (xs[:1] + args.sigma * torch.randn(args.batch, *xs.shape[1:], device=dev))
    best = {"plain": float("inf"), "fused": float("inf")}
    with torch.inference_mode():
        diff = float((plain(x) - fused(x)).abs().max())  # also the warm-up
        for _ in range(5):
            for label, m in (("plain", plain), ("fused", fused)):
                best[label] = min(best[label], timed(lambda m=m: m(x), dev)[1])
    print(f"{name:10s} {1e3 * best['plain']:12.1f} {1e3 * best['fused']:12.1f} "
          f"{best['plain'] / best['fused']:8.2f}x {diff:12.1e}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=20)
    ap.add_argument("--n0", type=int, default=100)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--sigma", type=float, default=0.5)
    ap.add_argument("--alpha", type=float, default=0.001)
    ap.add_argument("--epochs", type=int, default=3, help="training epochs of the ensemble members")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--smoke", action="store_true", help="seconds-sized run (tests): 2 images, n0 10, n 100")
    args = ap.parse_args(argv)
    if args.smoke:
        args.images, args.n0, args.n, args.batch, args.epochs = 2, 10, 100, 100, 1
    dev = torch.device(args.device)
    torch.manual_seed(0)  # script entry point: seeds global state for module initialisation
    data = load_mnist_subset()
    xt, yt, xs, ys = (t.to(dev) for t in data.torch())
    xs, ys = xs[: args.images], ys[: args.images]
    samples = args.images * (args.n0 + args.n)

    print(f"# CERTIFY throughput: {args.images} images x (n0={args.n0} + n={args.n}) noise samples, "
          f"batch {args.batch}, device {dev}")
    print(f"{'base':10s} {'method':22s} {'samples/s (wall)':>17s} {'samples/s (cpu)':>16s} "
          f"{'vs reference':>13s}")
    for name, model in [("MLP-256", MLP(784, [256], 10)), ("LeNet", LeNet(1, 10)),
                        ("ConvNet16", ConvNet(1, 10, width=16, depth=2, norm="batch"))]:
        throughput(name, model.to(dev).eval(), xs, args, samples, dev)

    print(f"\n# Fused members: forward of {args.batch} noisy copies (channels-last, unfused vs fused)")
    print(f"{'base':10s} {'plain ms':>12s} {'fused ms':>12s} {'ratio':>9s} {'max |diff|':>12s}")
    for name, model in [("LeNet", LeNet(1, 10)), ("ConvNet8", ConvNet(1, 10, width=8, depth=2, norm="batch")),
                        ("ConvNet16", ConvNet(1, 10, width=16, depth=2, norm="batch")),
                        ("ConvNet32", ConvNet(1, 10, width=32, depth=2, norm="batch")),
                        ("ConvNet32gn", ConvNet(1, 10, width=32, depth=2, norm="instance"))]:
        fused_ratio(name, model, xs, args, dev)

    print(f"\n# Adaptive SWEEN: 5 members trained {args.epochs} epochs with noise sigma={args.sigma}")
    gen = torch.Generator().manual_seed(0)
    members = [MLP(784, [256], 10), ConvNet(1, 10, width=16, depth=2, norm="batch"),
               ConvNet(1, 10, width=16, depth=2, norm="batch"), LeNet(1, 10), LeNet(1, 10)]
    xtr, ytr, xho, yho = xt[:-500], yt[:-500], xt[-500:], yt[-500:]
    for m in members:
        train_with_noise(m, xtr, ytr, args.sigma, epochs=args.epochs, device=dev, generator=gen)
    ens = SWEEN(members).to(dev)
    ens.fit_weights(xho, yho, args.sigma, epochs=10, lr=0.1, device=dev, generator=gen)
    print("weights:", np.round(ens.weights.cpu().numpy(), 3))
    Smooth(ens, 10, args.sigma).certify_batch(xs[:1], 10, 10, args.alpha, generator=0)  # warm-up
    full_certs, w_full, c_full = timed(lambda: Smooth(ens, 10, args.sigma).certify_batch(
        xs, args.n0, args.n, args.alpha, args.batch, generator=1), dev)
    print(f"{'rule':8s} {'member evals':>13s} {'saved':>7s} {'cpu s':>7s} {'speed-up':>9s} "
          f"{'same certificate':>17s}")
    print(f"{'full':8s} {len(members) * samples:13,d} {0:7.1%} {c_full:7.2f} {1:8.2f}x {'-':>17s}")
    for rule in ("ztest", "bound"):
        ada = AdaptiveSWEEN(ens, rule=rule)
        certs, w, c = timed(lambda ada=ada: Smooth(ada, 10, args.sigma).certify_batch(
            xs, args.n0, args.n, args.alpha, args.batch, generator=1), dev)
        same = np.mean([a.label == b.label and abs(a.radius - b.radius) < 1e-9
                        for a, b in zip(certs, full_certs)])
        print(f"{rule:8s} {ada.member_evals_:13,d} {ada.saving_:7.1%} {c:7.2f} {c_full / c:8.2f}x "
              f"{same:16.0%}")
    fast = ens.for_inference()
    Smooth(fast, 10, args.sigma).certify_batch(xs[:1], 10, 10, args.alpha, generator=0)  # warm-up
    fused_certs, _, c_fused = timed(lambda: Smooth(fast, 10, args.sigma).certify_batch(
        xs, args.n0, args.n, args.alpha, args.batch, generator=1), dev)
    same = np.mean([a.label == b.label and abs(a.radius - b.radius) < 1e-9
                    for a, b in zip(fused_certs, full_certs)])
    print(f"{'fused':8s} {len(members) * samples:13,d} {0:7.1%} {c_fused:7.2f} {c_full / c_fused:8.2f}x "
          f"{same:16.0%}")
    print(f"(fused / full member forward: certification CPU time ratio {c_full / c_fused:.2f}x)")
    acc = np.mean([c.label == int(y) for c, y in zip(full_certs, ys)])
    print(f"(full SWEEN certified accuracy at r=0 on these images: {acc:.0%})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
