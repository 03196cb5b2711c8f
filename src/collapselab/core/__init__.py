"""The experiment framework: registry, parameters, store, sweeps, claims, plotting and report.

It knows nothing of any paper. An experiment module uses::

    from collapselab.core import (Analysis, CellContext, Claim, Experiment, Params, Results,
                                  Verdict, register)
"""

from collapselab.core.claims import Claim, ClaimOutcome, Results, Verdict, evaluate_claims, headline
from collapselab.core.experiment import Analysis, CellContext, Experiment, Paper
from collapselab.core.params import ParamError, Params, resolve_params
from collapselab.core.registry import all_experiments, get_experiment, register

__all__ = ["Analysis", "CellContext", "Claim", "ClaimOutcome", "Experiment", "Paper", "ParamError",
           "Params", "Results", "Verdict", "all_experiments", "evaluate_claims", "get_experiment", "headline",
           "register", "resolve_params"]
