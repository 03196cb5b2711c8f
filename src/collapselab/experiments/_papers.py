"""The nine papers (titles and arXiv ids), shared by the experiment modules."""

from collapselab.core.experiment import Paper

STRONG_COLLAPSE = Paper("strong-collapse", "Strong Model Collapse", "2410.04840", "Strong Model Collapse")
BEYOND_COLLAPSE = Paper("beyond-collapse", "Beyond Model Collapse: Scaling Up with Synthesized Data "
                        "Requires Verification", "2406.07515", "Beyond Model Collapse")
ATTACKING_BAYES = Paper("attacking-bayes", "Attacking Bayes: On the Adversarial Robustness of Bayesian "
                        "Neural Networks", "2404.19640", "Attacking Bayes")
EFFICIENT_TRANSFORMERS = Paper("efficient-transformers", "Do Efficient Transformers Really Save "
                               "Computation?", "2402.13934", "Efficient Transformers")
DEMYSTIFIED = Paper("demystified", "Model Collapse Demystified: The Case of Regression", "2402.07712",
                    "Model Collapse Demystified")
TALE_OF_TAILS = Paper("tale-of-tails", "A Tale of Tails: Model Collapse as a Change of Scaling Laws",
                      "2402.07043", "A Tale of Tails")
RAT_BPTT = Paper("rat-bptt", "Embarrassingly Simple Dataset Distillation", "2311.07025", "RaT-BPTT")
TRANSFERRED_DISCREPANCY = Paper("transferred-discrepancy", "Transferred Discrepancy: Quantifying the "
                                "Difference Between Representations", "2007.12446", "Transferred Discrepancy")
SWEEN = Paper("sween", "Enhancing Certified Robustness via Smoothed Weighted Ensembling", "2005.09363",
              "SWEEN")

ALL_PAPERS = (STRONG_COLLAPSE, BEYOND_COLLAPSE, ATTACKING_BAYES, EFFICIENT_TRANSFORMERS, DEMYSTIFIED,
              TALE_OF_TAILS, RAT_BPTT, TRANSFERRED_DISCREPANCY, SWEEN)
