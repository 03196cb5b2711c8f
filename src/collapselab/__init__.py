"""collapselab: model collapse, verification of synthetic data and robustness, as a library,
resumable sweeps and checked claims.

Topic packages (the library): ``regression``, ``zipf``, ``verification``, ``bayes``, ``reasoning``,
``distill``, ``similarity``, ``smoothing``, plus shared ``data`` and ``nn``. The experiment framework
lives in ``core`` and the paper experiments in ``experiments``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("collapselab")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
