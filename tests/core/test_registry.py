"""Experiments are found through the entry-point group ``collapselab.experiments`` (the built-in ones too), core
imports no experiment, and every registered name ``paper/exp`` is the module ``experiments/paper/exp.py``."""

import ast
import importlib.metadata
import sys
from pathlib import Path

import pytest

from collapselab.core import registry
from collapselab.core.registry import ENTRY_POINT_GROUP, UnknownExperiment, all_experiments, get_experiment

SRC = Path(__file__).resolve().parents[2] / "src" / "collapselab"
USER_MODULE = '''
from collapselab.core import Claim, Experiment, Paper, Params, Verdict, register

register(Experiment(
    name="user-paper/demo", paper=Paper("user-paper", "A user's paper", "0000.00001", "User"),
    description="registered by an installed package of a user", params=Params,
    presets={"smoke": {}, "quick": {}, "full": {}},
    cells=lambda p: [{}], run_cell=lambda cell, ctx: {"v": 1.0}, summarize=lambda frame, p: {"frame": frame},
    claims=[Claim("one", "v is one", lambda r: Verdict.check(True, "v = 1"))]))
'''


@pytest.fixture
def fresh_registry(monkeypatch):
    """The registry as a copy, restored (with the cached entry points) after the test."""
    monkeypatch.setattr(registry, "_EXPERIMENTS", dict(registry._EXPERIMENTS))
    monkeypatch.setattr(registry, "_PAPERS", dict(registry._PAPERS))
    registry._entry_points.cache_clear()
    yield monkeypatch
    registry._entry_points.cache_clear()


_INSTALLED = importlib.metadata.entry_points


def _with_entry_points(monkeypatch, *extra: importlib.metadata.EntryPoint) -> None:
    """``importlib.metadata.entry_points`` as if a package declared ``extra`` in the group too."""

    def entry_points(**kw):
        found = _INSTALLED(**kw)
        return (*found, *extra) if kw.get("group") == ENTRY_POINT_GROUP else found

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    registry._entry_points.cache_clear()  # read once per process: read again


def test_the_builtin_experiments_are_an_installed_entry_point():
    eps = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    assert [(ep.name, ep.value) for ep in eps] == [("builtin", "collapselab.experiments")]
    assert "strong-collapse/lm-scaling" in all_experiments()


def test_a_users_package_registers_through_the_same_group(fresh_registry, tmp_path):
    (tmp_path / "user_lab_experiments.py").write_text(USER_MODULE)
    fresh_registry.syspath_prepend(str(tmp_path))
    fresh_registry.delitem(sys.modules, "user_lab_experiments", raising=False)
    _with_entry_points(fresh_registry, importlib.metadata.EntryPoint("mine", "user_lab_experiments",
                                                                     ENTRY_POINT_GROUP))
    assert "user-paper/demo" not in registry._EXPERIMENTS
    found = all_experiments()
    assert "user-paper/demo" in found and "tale-of-tails/lm-generations" in found
    assert get_experiment("user-paper/demo").paper.slug == "user-paper"
    assert "user-paper" in [p.slug for p in registry.all_papers()]
    sys.modules.pop("user_lab_experiments", None)


def test_a_missing_module_is_named_and_a_failing_one_keeps_its_error(fresh_registry, tmp_path):
    fresh_registry.setenv(registry.PLUGINS_ENV, "no_such_module_abc")
    with pytest.raises(UnknownExperiment, match="'no_such_module_abc' named in \\$COLLAPSELAB_EXPERIMENTS"):
        all_experiments()
    fresh_registry.delenv(registry.PLUGINS_ENV)
    (tmp_path / "user_lab_broken.py").write_text("import no_such_dependency_xyz\n")
    fresh_registry.syspath_prepend(str(tmp_path))
    ep = importlib.metadata.EntryPoint("broken", "no_such_module_xyz", ENTRY_POINT_GROUP)
    _with_entry_points(fresh_registry, ep)
    with pytest.raises(UnknownExperiment, match="'no_such_module_xyz'.*entry point 'broken'.*collapselab.experiments"):
        all_experiments()
    _with_entry_points(fresh_registry, importlib.metadata.EntryPoint("broken", "user_lab_broken", ENTRY_POINT_GROUP))
    with pytest.raises(ModuleNotFoundError, match="no_such_dependency_xyz"):  # a bug inside: its own traceback
        all_experiments()
    sys.modules.pop("user_lab_broken", None)


def test_core_imports_no_experiment():
    bad = []
    for path in (SRC / "core").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [f"{node.module}.{a.name}" for a in node.names] if isinstance(node, ast.ImportFrom) and node.module \
                else []
            bad += [f"{path.name}:{node.lineno}" for n in names if n.startswith("collapselab.experiments")]
    assert bad == []


def _registered_names(module: Path) -> list[str]:
    """The literal ``name=`` of every ``Experiment(...)`` built in ``module``."""
    return [k.value.value for node in ast.walk(ast.parse(module.read_text()))
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Experiment"
            for k in node.keywords if k.arg == "name" and isinstance(k.value, ast.Constant)]


def test_every_registered_name_is_its_module_path():
    from collapselab.experiments._papers import ALL_PAPERS

    slugs = {p.slug for p in ALL_PAPERS}
    builtin = [n for n, e in all_experiments().items() if e.paper.slug in slugs]
    assert len(builtin) >= 41
    for name in builtin:
        paper, exp = name.split("/")
        module = SRC / "experiments" / paper.replace("-", "_") / f"{exp.replace('-', '_')}.py"
        assert module.is_file() and _registered_names(module) == [name], name
    registering = {p.relative_to(SRC).as_posix() for p in (SRC / "experiments").rglob("*.py") if _registered_names(p)}
    assert len(registering) == len(builtin)
