from collapselab.core.runner import run_experiment


def test_min_width_smoke(tmp_path):
    rep = run_experiment("efficient-transformers/min-width", preset="smoke", out_dir=tmp_path)
    assert rep.counts["failed"] == 0 and rep.analysis_error is None
    f = rep.frame
    assert ((f["best_accuracy"] >= 0) & (f["best_accuracy"] <= 1)).all()
    for row in f.itertuples():  # widths tried in ascending order, stopping at the first that solves
        tried = [int(w) for w in row.accuracy_by_width]
        assert tried == sorted(tried) and tried[0] == 8
        assert (row.min_width is None or row.min_width != row.min_width) or row.min_width == tried[-1]
    assert (rep.artifact_dir / "figures" / "min_width.png").is_file()
    assert {c.id for c in rep.claims} == {"standard-constant", "efficient-grow", "arithmetic-local"}


def test_cost_smoke(tmp_path):
    rep = run_experiment("efficient-transformers/cost", preset="smoke", out_dir=tmp_path)
    assert rep.counts["failed"] == 0 and rep.analysis_error is None
    f = rep.frame
    assert (f["seconds_per_token"] > 0).all() and (f["cot_flops"] > f["flops_per_token"]).all()
    general = f[(f.regime == "general") & (f.attention == "linear")].sort_values("length")
    assert general["width"].is_monotonic_increasing and general["width"].iloc[-1] > general["width"].iloc[0]
