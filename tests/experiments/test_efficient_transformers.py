from collapselab.core.runner import run_experiment


def test_min_width_smoke(tmp_path):
    rep = run_experiment("efficient-transformers/min-width", preset="smoke", out_dir=tmp_path)
    assert rep.counts["failed"] == 0 and rep.analysis_error is None
    assert ((rep.frame["accuracy"] >= 0) & (rep.frame["accuracy"] <= 1)).all()
    assert (rep.artifact_dir / "figures" / "min_width.png").is_file()
    assert {c.id for c in rep.claims} == {"standard-constant", "efficient-grow", "arithmetic-local"}


def test_cost_smoke(tmp_path):
    rep = run_experiment("efficient-transformers/cost", preset="smoke", out_dir=tmp_path)
    assert rep.counts["failed"] == 0 and rep.analysis_error is None
    f = rep.frame
    assert (f["seconds_per_token"] > 0).all() and (f["cot_flops"] > f["flops_per_token"]).all()
    general = f[(f.regime == "general") & (f.attention == "linear")].sort_values("length")
    assert general["width"].is_monotonic_increasing and general["width"].iloc[-1] > general["width"].iloc[0]
