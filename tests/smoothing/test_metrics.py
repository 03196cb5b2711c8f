import numpy as np
import pandas as pd
import pytest
import torch

from collapselab.smoothing import CifarResNet, average_certified_radius, certified_accuracy


def test_certified_accuracy_by_hand():
    res = pd.DataFrame({"label": [0, 1, 2, 3], "predict": [0, 1, -1, 2], "radius": [0.3, 0.8, 0.0, 1.0]})
    assert np.allclose(certified_accuracy(res, [0.0, 0.25, 0.5, 1.0]), [0.5, 0.5, 0.25, 0.0])
    assert average_certified_radius(res) == pytest.approx((0.3 + 0.8) / 4)
    rows = res[["label", "predict", "radius"]].to_numpy()
    assert average_certified_radius(rows) == pytest.approx(average_certified_radius(res))


def test_acr_is_area_under_certified_accuracy():
    rng = np.random.default_rng(0)
    res = {"label": rng.integers(0, 3, 200), "predict": rng.integers(-1, 3, 200),
           "radius": rng.uniform(0, 2, 200)}
    grid = np.linspace(0, 2.5, 250_001)
    area = np.trapezoid(certified_accuracy(res, grid), grid)
    assert area == pytest.approx(average_certified_radius(res), abs=1e-3)


def test_metric_validation():
    with pytest.raises(ValueError, match="radius"):
        average_certified_radius({"label": [0], "predict": [0], "radius": [-1.0]})
    with pytest.raises(ValueError, match="results"):
        certified_accuracy({"label": [0], "predict": [0]}, [0.0])
    with pytest.raises(ValueError, match="radii"):
        certified_accuracy({"label": [0], "predict": [0], "radius": [1.0]}, [-0.5])


def test_cifar_resnet_shapes():
    net = CifarResNet(8, 10, in_channels=1, width=4)
    assert net(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    with pytest.raises(ValueError, match="depth"):
        CifarResNet(21)
