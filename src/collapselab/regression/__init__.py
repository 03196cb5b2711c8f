"""Ridge and random-projection regression theory with Monte Carlo twins (papers 1 and 5).

Shared helpers: :func:`power_law_spectrum`, :func:`df`, :func:`effective_regularization`,
:func:`fit_power_law`, :func:`bartlett_factor` (exact-in-law Gaussian sufficient statistics), the
problem instances of the experiments (:func:`mixture_problem`, :func:`recursive_problem`), kernel ridge
and random-features ridge for the MNIST experiments.
"""

from collapselab.regression._fit import LineFit, PowerLawFit, fit_power_law, weighted_line_fit
from collapselab.regression._kernel import (
    KernelRidge,
    median_heuristic_gamma,
    random_features_ridge,
    squared_distances,
)
from collapselab.regression._mitigation import simulate_iterative_mixing, simulate_weighted_mixture
from collapselab.regression._mixture import (
    isotropic_mixture_error,
    isotropic_targets,
    mixture_ridge_error,
    simulate_isotropic_mixture,
    simulate_mixture_ridge,
)
from collapselab.regression._power_law import adaptive_regularization, critical_exponent, source_condition
from collapselab.regression._problems import mixture_problem, recursive_problem, spread_mixture_problem
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
from collapselab.regression._wishart import bartlett_factor, gaussian_sufficient_stats
from collapselab.stats import MCEstimate  # the one Monte Carlo estimate type (re-exported)

__all__ = ["LineFit", "PowerLawFit", "df", "effective_regularization", "fit_power_law", "power_law_spectrum",
           "weighted_line_fit"]
__all__ += ["MCEstimate", "isotropic_mixture_error", "isotropic_targets", "mixture_ridge_error",
            "simulate_isotropic_mixture", "simulate_mixture_ridge"]
__all__ += ["projected_problem", "random_projection_mixture_error", "simulate_random_projection_gap",
            "simulate_random_projection_mixture"]
__all__ += ["simulate_iterative_mixing", "simulate_weighted_mixture"]
__all__ += ["adaptive_regularization", "critical_exponent", "generation_moments", "pinv_gram_diag",
            "recursive_ridge_error", "simulate_recursive_ridge", "source_condition"]
__all__ += ["KernelRidge", "median_heuristic_gamma", "random_features_ridge", "squared_distances"]
__all__ += ["mixture_problem", "recursive_problem", "spread_mixture_problem"]
__all__ += ["bartlett_factor", "gaussian_sufficient_stats"]
