import pytest

from collapselab.reasoning import cot_datasets, min_width, train_cot_model

TINY = {"steps": 15, "n_train": 120, "n_test": 20, "batch_size": 16}


def test_datasets_are_independent_streams_of_the_seed():
    train, test = cot_datasets("lis", 4, 50, 30, seed=7)
    again, _ = cot_datasets("lis", 4, 50, 30, seed=7)
    other, _ = cot_datasets("lis", 4, 50, 30, seed=8)
    assert (len(train), len(test)) == (50, 30)
    assert [e.text for e in train] == [e.text for e in again]
    assert [e.text for e in train] != [e.text for e in other]
    assert [e.text for e in train[:30]] != [e.text for e in test]


def test_given_data_trains_exactly_like_generated_data():
    a = train_cot_model("lis", 3, width=8, seed=3, **TINY)
    data = cot_datasets("lis", 3, TINY["n_train"], TINY["n_test"], seed=3)
    b = train_cot_model("lis", 3, width=8, seed=3, data=data, **TINY)
    assert a.losses == b.losses and a.accuracy == b.accuracy


def test_training_lowers_the_loss():
    res = train_cot_model("lis", 3, width=16, steps=150, n_train=500, n_test=20, seed=0)
    first, last = sum(res.losses[:10]) / 10, sum(res.losses[-10:]) / 10
    assert last < 0.7 * first


def test_min_width_stops_at_the_first_width_that_solves():
    hit = min_width("lis", 3, "softmax", [16, 8], threshold=0.0, **TINY)
    assert hit.width == 8 and list(hit.accuracy) == [8]  # the grid is searched in ascending order
    miss = min_width("lis", 3, "linear", [8, 16], threshold=1.0, steps=2, n_train=50, n_test=20)
    assert miss.width is None and list(miss.accuracy) == [8, 16] and set(miss.final_loss) == {8, 16}


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="widths"):
        min_width("lis", 3, "softmax", [])
    with pytest.raises(ValueError, match="seeds"):
        min_width("lis", 3, "softmax", [8], seeds=[])
    with pytest.raises(ValueError, match="data"):
        train_cot_model("lis", 3, width=8, data=([], []), **TINY)
    with pytest.raises(ValueError, match="n_train"):
        cot_datasets("lis", 3, 0, 10)
