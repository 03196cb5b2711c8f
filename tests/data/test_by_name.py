"""collapselab.data.load: one spelling per dataset, the old spellings as aliases, loud on unknown names."""

import numpy as np
import pytest

from collapselab import data


def test_every_alias_names_a_dataset():
    assert set(data.ALIASES.values()) <= set(data.DATASETS)
    assert not set(data.ALIASES) & set(data.DATASETS)


@pytest.mark.parametrize("name", ["mnist-subset", "mnist_subset", "mnist"])
def test_mnist_subset_spellings_load_the_same_arrays(name):
    got, ref = data.load(name), data.load_mnist_subset()
    assert all(np.array_equal(a, b) for a, b in zip(got, ref))


def test_digits_and_data_dir_is_ignored_for_bundled_sets(tmp_path):
    got, ref = data.load("digits", tmp_path), data.load_digits()
    assert all(np.array_equal(a, b) for a, b in zip(got, ref))


@pytest.mark.parametrize("name", ["cifar10", "mnist_idx", "fashion_idx", "mnist-idx"])
def test_file_datasets_need_a_data_dir(name):
    with pytest.raises(ValueError, match="data_dir"):
        data.load(name)


def test_file_datasets_read_data_dir(tmp_path):
    with pytest.raises(FileNotFoundError):
        data.load("cifar10", tmp_path)


@pytest.mark.parametrize("name", ["imagenet", "MNIST", "", None])
def test_unknown_names_list_the_valid_ones(name):
    with pytest.raises(ValueError, match="mnist-subset"):
        data.load(name)
    assert data.dataset_name("fashion_idx") == "fashion-mnist-idx"
