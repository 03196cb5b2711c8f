"""extract_features: forward hooks on named layers, flattened, batched, model state restored."""

import numpy as np
import pytest
import torch

from collapselab.nn import MLP, ConvNet
from collapselab.similarity import extract_features


def test_mlp_hidden_layer_matches_manual_forward():
    torch.manual_seed(0)  # test-local seeding of the init only
    model = MLP(12, [7, 5], 3)
    x = np.random.default_rng(0).standard_normal((33, 12)).astype(np.float32)
    out = extract_features(model, x, ["net.2", "net.4"], batch_size=10)
    with torch.no_grad():
        h1 = torch.relu(model.net[1](torch.tensor(x)))
    np.testing.assert_allclose(out["net.2"], h1.numpy(), rtol=1e-6)
    assert out["net.4"].shape == (33, 5) and out["net.2"].dtype == np.float64


def test_conv_features_flattened_and_training_mode_restored():
    model = ConvNet(1, 10, image_size=8, width=4, depth=2)
    model.train()
    out = extract_features(model, torch.rand(6, 1, 8, 8), "features.3")
    assert out["features.3"].shape == (6, 4 * 4 * 4)
    assert model.training


def test_unknown_layer_lists_valid_names():
    model = MLP(4, [3], 2)
    with pytest.raises(ValueError, match="layers.*net.1"):
        extract_features(model, np.zeros((2, 4), np.float32), ["nope"])
