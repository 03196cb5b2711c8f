"""Paper 3, "Attacking Bayes: On the Adversarial Robustness of Bayesian Neural Networks" (Feng, Rudner,
Tsilivis, Kempe; TMLR 2024, arXiv 2404.19640).

One experiment per attacked task of the paper, each training one posterior per cell (MAP, MC dropout,
mean-field VI, deep ensemble, HMC; ``collapselab.bayes``) and attacking it:

* ``attacking-bayes/label``: robust accuracy of the posterior predictive against eps, hygiene attacks,
  and each flaw of the criticised evaluation;
* ``attacking-bayes/detection``: uncertainty-based adversarial-example detection against adaptive attacks;
* ``attacking-bayes/semantic-shift``: OOD detection by uncertainty, and the attack that defeats it.
"""

from collapselab.experiments.attacking_bayes import detection, label, semantic_shift

__all__ = ["detection", "label", "semantic_shift"]
