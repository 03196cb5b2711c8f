"""Paper 9, SWEEN: "Enhancing Certified Robustness via Smoothed Weighted Ensembling" (Liu, Feng, Wang, Dong;
arXiv 2005.09363), on randomized smoothing (Cohen et al. 2019); library in ``collapselab.smoothing``.

* ``sween/certify``: candidates, their envelope, the uniform ensemble and SWEEN, certified on shared noise;
* ``sween/adaptive``: adaptive prediction against the full SWEEN;
* ``sween/small-vs-large``: a SWEEN of small models against one large model of the same family.
"""

from collapselab.experiments.sween import adaptive, certify, small_vs_large

__all__ = ["adaptive", "certify", "small_vs_large"]
