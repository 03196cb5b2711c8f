"""Model collapse in language models on real text (issue 24): experiments of three papers that share the
library :mod:`collapselab.lm` and register under their papers' slugs:

* ``tale-of-tails/lm-generations`` (A Tale of Tails, Sec. 6),
* ``strong-collapse/lm-scaling`` (Strong Model Collapse, Sec. 4.2, Fig. 8),
* ``beyond-collapse/lm-verification`` (Beyond Model Collapse, news-summarisation experiment).
"""

from collapselab.experiments.language_models import generations, scaling, verification

__all__ = ["generations", "scaling", "verification"]
