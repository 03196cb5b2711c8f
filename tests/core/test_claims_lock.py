"""The committed claims record (src/collapselab/claims.lock) matches every built-in claim's declaration:
a changed statement, test, margin, gate, seed count or grid without a history entry fails here."""

from collapselab.core.declarations import check, is_builtin, read_lock
from collapselab.core.registry import all_experiments


def _builtin():
    return [e for e in all_experiments().values() if is_builtin(e)]


def test_every_builtin_claim_matches_its_recorded_declaration():
    drifts = check(_builtin(), read_lock())
    assert not drifts, "claims record out of date:\n" + "\n".join(map(str, drifts))


def test_versions_count_their_restatements():
    lock = read_lock()
    assert lock.claims
    for key, decl in lock.claims.items():
        assert decl.version == len(decl.restatements) + 1, key
        assert [h.version for h in decl.restatements] == list(range(1, decl.version)), key
        dates = [h.replaced for h in decl.history]
        assert dates == sorted(dates), key


def test_the_restatements_named_in_the_record_are_shown():
    lock = read_lock()
    side = lock.claims["beyond-collapse/linear-verifier:side-pruner"]
    assert side.version >= 2 and any(h.old_id == "side" for h in side.restatements)
    assert "restated" in side.label()
