"""Deterministic problem instances (spectrum and target vectors) of the papers' regression experiments.

All vectors are coefficients in the eigenbasis of Sigma = diag(eigs). The instances are functions of
their arguments only (no randomness), so an experiment cell that names them is reproducible.
"""

from __future__ import annotations

import math

import numpy as np

from collapselab._validation import check_choice, check_int, check_real
from collapselab.regression._mixture import isotropic_targets
from collapselab.regression._power_law import source_condition
from collapselab.regression._spectrum import power_law_spectrum

SPECTRA = ("isotropic", "power_law")


def mixture_problem(spectrum: str, d: int, exponent: float, c2: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(eigs, w1, w2) for the real/synthetic mixture of paper 1 (Strong Model Collapse, Sec. 2).

    * ``isotropic``: Sigma = I, w1 = e_1, w2 - w1 = sqrt(c2) e_2 (:func:`isotropic_targets`);
    * ``power_law``: lambda_j = j^{-exponent}; w1 with ``lambda_j w1_j^2`` proportional to j^{-1.5} and
      ``||w1||_Sigma = 1``; w2 - w1 the same profile with alternating signs, scaled so that
      ``||w2 - w1||_Sigma^2 = c2`` (the paper's quality c^2, Definition 1).
    """
    spectrum = check_choice("spectrum", spectrum, SPECTRA)
    d = check_int("d", d, low=1)
    exponent = check_real("exponent", exponent, low=0.0)
    c2 = check_real("c2", c2, low=0.0)
    if spectrum == "isotropic":
        w1, w2 = isotropic_targets(d, c2)
        return np.ones(d), w1, w2
    eigs = power_law_spectrum(d, exponent)
    j = np.arange(1, d + 1, dtype=np.float64)
    energy = j ** -1.5
    w1 = np.sqrt(energy / energy.sum() / eigs)
    signs = np.where(j % 2 == 0, 1.0, -1.0)
    return eigs, w1, w1 + signs * w1 * np.sqrt(c2)


def spread_mixture_problem(spectrum: str, d: int, exponent: float,
                           c2: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(eigs, w1, w2) for the random-projection experiments of paper 1 (Sec. 3.2, model size).

    ``isotropic``: w1 = (1, ..., 1)/sqrt(d) spread over all coordinates (a width-m projection then
    captures a fraction ~ m/d of it) and a shift of squared norm c2 with alternating signs,
    ``w2 - w1 = (+-1) sqrt(c2/d)``; ``power_law``: as :func:`mixture_problem`.
    """
    spectrum = check_choice("spectrum", spectrum, SPECTRA)
    d = check_int("d", d, low=1)
    c2 = check_real("c2", c2, low=0.0)
    if spectrum == "power_law":
        return mixture_problem("power_law", d, exponent, c2)
    j = np.arange(d)
    w1 = np.ones(d) / np.sqrt(d)
    return np.ones(d), w1, w1 + np.where(j % 2 == 0, 1.0, -1.0) * np.sqrt(c2 / d)


def recursive_problem(spectrum: str, d: int, beta: float = 2.0, r: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """(eigs, w0) for paper 5 (Model Collapse Demystified): isotropic Sigma = I with ``w0 = 1/sqrt(d)``
    (``||w0|| = 1``), or ``lambda_j = j^{-beta}`` with the source condition
    ``lambda_j w0_j^2 = j^{-(1 + 2 beta r)}`` (Sec. 5, Eq. 23; :func:`source_condition`)."""
    spectrum = check_choice("spectrum", spectrum, SPECTRA)
    d = check_int("d", d, low=1)
    if spectrum == "isotropic":
        return np.ones(d), np.full(d, 1.0 / math.sqrt(d))
    eigs = power_law_spectrum(d, beta)
    return eigs, source_condition(eigs, r)
