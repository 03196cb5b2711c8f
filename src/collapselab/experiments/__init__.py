"""Paper experiments: one package per paper, one module per experiment (``paper/exp`` is
``<paper>/<exp>.py``, dashes as underscores), each registering its experiments on import.

The registry finds this package through the entry point ``builtin`` of the group
``collapselab.experiments`` (``pyproject.toml``), as it finds a user's installed package. The private
modules are shared by several papers: ``_papers`` (titles and arXiv ids) and ``_lm`` (the
language-model experiments' corpus, model source and training call)."""

import importlib
import pkgutil

for _info in pkgutil.iter_modules(__path__):
    if not _info.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_info.name}")
