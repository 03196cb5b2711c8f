"""Ridge and random-projection regression theory with Monte Carlo twins (papers 1 and 5).

Shared helpers: :func:`power_law_spectrum`, :func:`df`, :func:`effective_regularization`,
:func:`fit_power_law`.
"""

from collapselab.regression._fit import PowerLawFit, fit_power_law
from collapselab.regression._spectrum import df, effective_regularization, power_law_spectrum

__all__ = ["PowerLawFit", "df", "effective_regularization", "fit_power_law", "power_law_spectrum"]
