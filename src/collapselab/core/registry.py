"""The experiment registry: a dict that fails loudly, filled by importing the modules that installed
packages declare in the entry-point group :data:`ENTRY_POINT_GROUP` (collapselab's own experiments are
one such package) and those named in ``$COLLAPSELAB_EXPERIMENTS``. The framework imports no paper."""

from __future__ import annotations

import difflib
import functools
import importlib
import importlib.metadata
import os

from collapselab.core.experiment import Experiment, Paper

_EXPERIMENTS: dict[str, Experiment] = {}
_PAPERS: dict[str, Paper] = {}  # learnt at registration, in registration order


class UnknownExperiment(KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0])


def register(experiment: Experiment) -> Experiment:
    """Add an experiment; a second experiment under the same name is an error."""
    if experiment.name in _EXPERIMENTS and _EXPERIMENTS[experiment.name] is not experiment:
        raise KeyError(f"duplicate experiment {experiment.name!r}")
    known = _PAPERS.setdefault(experiment.paper.slug, experiment.paper)
    if known != experiment.paper:
        raise KeyError(f"experiment {experiment.name!r} declares paper {experiment.paper.slug!r} differently "
                       f"from an earlier experiment ({known.title!r} vs {experiment.paper.title!r})")
    _EXPERIMENTS[experiment.name] = experiment
    return experiment


PLUGINS_ENV = "COLLAPSELAB_EXPERIMENTS"
ENTRY_POINT_GROUP = "collapselab.experiments"


@functools.cache
def _entry_points() -> tuple[importlib.metadata.EntryPoint, ...]:
    """The installed entry points of :data:`ENTRY_POINT_GROUP` (read once per process)."""
    return tuple(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))


def _load_experiments() -> None:
    """Import every module of the entry-point group :data:`ENTRY_POINT_GROUP`, then any modules named in
    $COLLAPSELAB_EXPERIMENTS; each registers its experiments on import.

    A package declares the modules holding its experiments in its ``pyproject.toml`` as a table
    ``[project.entry-points."<ENTRY_POINT_GROUP>"]`` of ``name = "module"`` lines, as collapselab's own
    ``pyproject.toml`` does for the built-in experiments. The variable holds comma-separated importable
    module names, for a researcher's scripts that are not an installed package. Either way the
    experiments run with the same CLI, store and report.
    """
    for ep in _entry_points():
        try:
            ep.load()
        except ModuleNotFoundError as exc:
            if not _is_missing(exc, ep.module):
                raise  # the module exists but fails inside: keep the traceback
            raise UnknownExperiment(f"cannot import {ep.value!r} (entry point {ep.name!r} of group "
                                    f"{ENTRY_POINT_GROUP!r}): {exc}") from None
    for module in filter(None, (m.strip() for m in os.environ.get(PLUGINS_ENV, "").split(","))):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if not _is_missing(exc, module):
                raise
            raise UnknownExperiment(f"cannot import {module!r} named in ${PLUGINS_ENV}: {exc}") from None


def _is_missing(exc: ModuleNotFoundError, module: str) -> bool:
    """Whether ``exc`` says that ``module`` itself (or a package above it) does not exist."""
    return exc.name is not None and (module == exc.name or module.startswith(exc.name + "."))


def all_experiments() -> dict[str, Experiment]:
    _load_experiments()
    return dict(sorted(_EXPERIMENTS.items()))


def all_papers() -> list[Paper]:
    """The papers of the registered experiments, in the order they were first registered."""
    _load_experiments()
    return list(_PAPERS.values())


def get_experiment(name: str) -> Experiment:
    """Look up ``paper/experiment``; a bare paper slug is an error that lists its experiments."""
    experiments = all_experiments()
    if name in experiments:
        return experiments[name]
    in_paper = [n for n in experiments if n.startswith(name.rstrip("/") + "/")]
    if in_paper:
        raise UnknownExperiment(f"{name!r} is a paper; its experiments: {', '.join(in_paper)}")
    close = difflib.get_close_matches(name, list(experiments), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise UnknownExperiment(f"unknown experiment {name!r}{hint}; see `collapselab list`")


def experiments_of_paper(slug: str) -> list[Experiment]:
    return [e for n, e in all_experiments().items() if e.paper.slug == slug]
