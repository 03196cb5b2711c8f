"""The experiment registry: a dict that fails loudly, filled by importing ``collapselab.experiments``."""

from __future__ import annotations

import difflib

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


def _load_builtin() -> None:
    """Import the built-in experiments, then any modules named in $COLLAPSELAB_EXPERIMENTS.

    The variable holds comma-separated importable module names: a researcher's own experiments
    register themselves on import and then run with the same CLI, store and report.
    """
    import importlib
    import os

    import collapselab.experiments  # noqa: F401  (registers on import)

    for module in filter(None, (m.strip() for m in os.environ.get(PLUGINS_ENV, "").split(","))):
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise UnknownExperiment(f"cannot import {module!r} named in ${PLUGINS_ENV}: {exc}") from None


def all_experiments() -> dict[str, Experiment]:
    _load_builtin()
    return dict(sorted(_EXPERIMENTS.items()))


def all_papers() -> list[Paper]:
    """The papers of the registered experiments, in the order they were first registered."""
    _load_builtin()
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
