import pytest
import torch

from collapselab.nn import DecoderLM
from collapselab.reasoning import (
    CoTConfig,
    cot_datasets,
    encode_batch,
    exact_match,
    generate,
    greedy_solve,
    min_width,
    problem_key,
    train_cot_model,
    vocabulary,
)

TINY = {"steps": 15, "n_train": 120, "n_test": 20, "batch_size": 16}


def keys(examples):
    return {problem_key(e) for e in examples}


@pytest.mark.parametrize("task, size", [("arithmetic", 1), ("lis", 3), ("ed", 2)])
def test_train_val_test_are_disjoint_and_distinct_even_when_the_space_is_small(task, size):
    # arithmetic with one operator has ~460 distinct problems: far fewer than asked for
    d = cot_datasets(task, size, 600, 100, n_val=50, seed=1)
    tr, va, te = keys(d.train), keys(d.val), keys(d.test)
    assert len(tr) == len(d.train) and len(va) == len(d.val) and len(te) == len(d.test)  # no repeats
    assert not (tr & te) and not (tr & va) and not (va & te)
    assert len(d.train) + len(d.val) + len(d.test) == min(d.distinct, d.requested)


def test_an_exhausted_space_is_reported_and_the_sets_resized():
    d = cot_datasets("arithmetic", 1, 600, 100, n_val=50, seed=0)
    assert d.exhausted and d.distinct < 600  # 11 values x 4 operators x 11 operands, fewer after rendering
    assert len(d.test) == d.distinct // 5 and len(d.val) == d.distinct // 10
    big = cot_datasets("lis", 6, 500, 100, n_val=50, seed=0)
    assert not big.exhausted and (len(big.train), len(big.val), len(big.test)) == (500, 50, 100)


def test_datasets_are_a_function_of_the_seed():
    a, b, c = (cot_datasets("lis", 4, 50, 30, seed=s) for s in (7, 7, 8))
    assert [e.text for e in a.train] == [e.text for e in b.train]
    assert [e.text for e in a.train] != [e.text for e in c.train]


def test_given_data_trains_exactly_like_generated_data():
    a = train_cot_model("lis", 3, width=8, seed=3, **TINY)
    data = cot_datasets("lis", 3, TINY["n_train"], TINY["n_test"], seed=3)
    b = train_cot_model("lis", 3, width=8, seed=3, data=data, **TINY)
    assert a.losses == b.losses and a.accuracy == b.accuracy


def test_config_object_and_keywords_train_alike():
    a = train_cot_model("lis", 3, CoTConfig(**TINY), width=8, seed=3)
    b = train_cot_model("lis", 3, width=8, seed=3, **TINY)
    assert a.losses == b.losses and a.accuracy == b.accuracy
    with pytest.raises(ValueError, match="valid keys"):
        train_cot_model("lis", 3, width=8, epochs=3)


def test_training_lowers_the_loss():
    res = train_cot_model("lis", 3, width=16, steps=100, n_train=500, n_test=20, seed=0)
    first, last = sum(res.losses[:10]) / 10, sum(res.losses[-10:]) / 10
    assert last < 0.7 * first


def test_early_stopping_on_validation_ends_training():
    res = train_cot_model("lis", 3, width=8, steps=400, n_train=200, n_val=20, n_test=20, eval_every=10,
                          stop_at=0.0, seed=0)
    assert res.steps == 10 and res.val_accuracy is not None


def test_min_width_stops_at_the_first_width_that_solves():
    hit = min_width("lis", 3, "softmax", [16, 8], threshold=0.0, **TINY)
    assert hit.width == 8 and list(hit.accuracy) == [8]  # the grid is searched in ascending order
    miss = min_width("lis", 3, "linear", [8, 16], threshold=1.0, steps=2, n_train=50, n_test=20)
    assert miss.width is None and list(miss.accuracy) == [8, 16] and set(miss.final_loss) == {8, 16}


def test_exact_match_equals_greedy_decoding():
    torch.manual_seed(3)
    exs = generate("lis", 3, 30, seed=0)
    vocab = vocabulary("lis", 3)
    lm = DecoderLM(len(vocab), d_model=16, n_layers=1, n_heads=2, max_len=16)
    # teach it nothing: exact match must agree with decoding whatever the weights
    greedy = sum(greedy_solve(lm, ex, vocab) == ex.cot + [ex.answer] for ex in exs) / len(exs)
    assert exact_match(lm, exs, vocab) == greedy
    x, y, m = encode_batch(exs[:2], vocab)
    assert x.shape == y.shape == m.shape and m.sum(1).tolist() == [len(e.target) for e in exs[:2]]


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="widths"):
        min_width("lis", 3, "softmax", [])
    with pytest.raises(ValueError, match="n_train"):
        cot_datasets("lis", 3, 0, 10)
    with pytest.raises(ValueError, match="n_val"):
        cot_datasets("lis", 3, 10, 10, n_val=-1)


def test_coarse_then_bisection_search_finds_the_same_width_with_fewer_models(monkeypatch):
    import collapselab.reasoning._train as tr

    need = 20  # a fake task solved from width 20 on

    class R:
        def __init__(self, w):
            self.accuracy, self.losses, self.steps, self.model = float(w >= need), [0.0], 1, f"model{w}"

    tried = []
    monkeypatch.setattr(tr, "train_cot_model", lambda *a, width, **k: tried.append(width) or R(width))
    grid = [8, 10, 12, 14, 16, 20, 24, 28, 32]
    data = cot_datasets("lis", 3, 10, 10)
    res = min_width("lis", 3, "softmax", grid, 0.5, data=data, coarse=4)
    assert res.width == 20 and res.model == "model20" and tried == [8, 16, 32, 24, 20]
    tried.clear()
    assert min_width("lis", 3, "softmax", grid, 0.5, data=data).width == 20 and tried == grid[:6]
    tried.clear()
    need = 99
    assert min_width("lis", 3, "softmax", grid, 0.5, data=data, coarse=4).width is None and tried == [8, 16, 32]
