"""Ridge and random-projection regression theory with Monte Carlo twins (papers 1 and 5).

Shared helpers: :func:`power_law_spectrum`, :func:`df`, :func:`effective_regularization`,
:func:`fit_power_law`.
"""

from collapselab.regression._fit import PowerLawFit, fit_power_law
from collapselab.regression._mitigation import simulate_iterative_mixing, simulate_weighted_mixture
from collapselab.regression._mixture import (
    MCEstimate,
    isotropic_mixture_error,
    isotropic_targets,
    mixture_ridge_error,
    simulate_isotropic_mixture,
    simulate_mixture_ridge,
)
from collapselab.regression._power_law import adaptive_regularization, critical_exponent, source_condition
from collapselab.regression._projection import (
    projected_problem,
    random_projection_mixture_error,
    simulate_random_projection_gap,
    simulate_random_projection_mixture,
)
from collapselab.regression._recursive import (
    generation_moments,
    pinv_gram_diag,
    recursive_ridge_error,
    simulate_recursive_ridge,
)
from collapselab.regression._spectrum import df, effective_regularization, power_law_spectrum

__all__ = ["PowerLawFit", "df", "effective_regularization", "fit_power_law", "power_law_spectrum"]
__all__ += ["MCEstimate", "isotropic_mixture_error", "isotropic_targets", "mixture_ridge_error",
            "simulate_isotropic_mixture", "simulate_mixture_ridge"]
__all__ += ["projected_problem", "random_projection_mixture_error", "simulate_random_projection_gap",
            "simulate_random_projection_mixture"]
__all__ += ["simulate_iterative_mixing", "simulate_weighted_mixture"]
__all__ += ["adaptive_regularization", "critical_exponent", "generation_moments", "pinv_gram_diag",
            "recursive_ridge_error", "simulate_recursive_ridge", "source_condition"]
