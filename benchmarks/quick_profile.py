"""Where one experiment's quick cells spend their wall time.

Runs the first ``--cells`` tasks the runner plans for the preset (:func:`collapselab.core.runner.plan`:
valid cells with their real seeds) twice:

1. in-process, instrumented: every top-level ``nn.Module`` forward, every ``backward`` and every
   optimiser step is timed (global module hooks, a wrapper on ``torch.autograd.backward`` and the
   optimiser step hooks): that is the model arithmetic; the rest of ``run_cell`` is data generation,
   decoding / evaluation Python outside modules, numpy Monte Carlo ("other cell time");
2. through :func:`collapselab.core.sweep.run_tasks` into a temporary store (``--workers``): the
   difference from the in-process cell time is the framework overhead (worker start, pickling, store).

Then times the analysis (``summarize`` + ``plot``) on the stored frame. Prints each part and its
share; the last line gives the ratio of model arithmetic to wall time.

Run: ``python benchmarks/quick_profile.py EXPERIMENT [--preset quick] [--cells N] [--workers 1] [--smoke]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from torch import nn
from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

from collapselab.core import CellContext, get_experiment, resolve_params
from collapselab.core.runner import _analyze, plan
from collapselab.core.store import Store
from collapselab.core.sweep import run_tasks


class Clock:
    """Seconds spent in top-level module forwards, in backward passes and in optimiser steps."""

    def __init__(self) -> None:
        self.forward = self.backward = self.optim = 0.0
        self._depth, self._t0, self._opt_t0 = 0, 0.0, 0.0

    def install(self) -> list:
        def pre(module, args):
            if self._depth == 0:
                self._t0 = time.perf_counter()
            self._depth += 1

        def post(module, args, out):
            self._depth -= 1
            if self._depth == 0:
                self.forward += time.perf_counter() - self._t0

        def opt_pre(opt, args, kwargs):
            self._opt_t0 = time.perf_counter()

        def opt_post(opt, args, kwargs):
            self.optim += time.perf_counter() - self._opt_t0

        original = torch.autograd.backward

        def backward(*args, **kwargs):
            t = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.backward += time.perf_counter() - t

        torch.autograd.backward = backward
        return [nn.modules.module.register_module_forward_pre_hook(pre),
                nn.modules.module.register_module_forward_hook(post),
                register_optimizer_step_pre_hook(opt_pre),
                register_optimizer_step_post_hook(opt_post), original]

    @staticmethod
    def remove(handles: list) -> None:
        *hooks, original = handles
        for h in hooks:
            h.remove()
        torch.autograd.backward = original


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("experiment", nargs="?", default="efficient-transformers/min-width")
    ap.add_argument("--preset", default="quick")
    ap.add_argument("--cells", type=int, default=2, help="first N planned (cell, replicate) tasks")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--smoke", action="store_true", help="smoke preset, one cell of a small experiment")
    args = ap.parse_args()
    if args.smoke:
        args.experiment, args.preset, args.cells = "attacking-bayes/label", "smoke", 1
    exp = get_experiment(args.experiment)
    params = resolve_params(exp.params, exp.presets, args.preset)
    tasks = plan(exp, params, "cpu")[: args.cells]

    clock, cell_s = Clock(), 0.0
    handles = clock.install()
    try:
        for t in tasks:
            start = time.perf_counter()
            exp.run_cell(dict(t.cell), CellContext(seed=t.seed, replicate=t.replicate, device="cpu"))
            cell_s += time.perf_counter() - start
    finally:
        Clock.remove(handles)

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        with Store(Path(tmp) / "store.sqlite") as store:
            store.start_run("profile", exp.name, args.preset, params.model_dump(mode="json"), info={})
            for record in run_tasks(tasks, workers=args.workers):
                store.put_cell(record, "profile")
            framework_s = time.perf_counter() - start
            frame = store.frame(exp.name, [(t.cell_key, t.replicate) for t in tasks])
        start = time.perf_counter()
        _, error = _analyze(exp, frame, params)
        analysis_s = time.perf_counter() - start
    arith = clock.forward + clock.backward + clock.optim
    overhead = max(framework_s - cell_s, 0.0)
    wall = cell_s + overhead + analysis_s
    rows = [("model arithmetic: forward", clock.forward), ("model arithmetic: backward", clock.backward),
            ("model arithmetic: optimiser steps", clock.optim),
            ("other cell time (data generation, decoding and evaluation loops, numpy)", cell_s - arith),
            (f"framework overhead (workers={args.workers}: start, pickling, store)", overhead),
            ("summarize + plot" + (f" (failed: {error})" if error else ""), analysis_s)]
    print(f"{exp.name}, preset {args.preset}, {len(tasks)} task(s)")
    for name, s in rows:
        print(f"  {name:75s} {s:8.2f} s {100 * s / wall:5.1f}%")
    print(f"  {'wall':75s} {wall:8.2f} s")
    print(f"ratio model arithmetic / wall: {arith / wall:.2f}")


if __name__ == "__main__":
    main()
