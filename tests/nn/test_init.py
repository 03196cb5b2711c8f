import pytest
import torch
from torch import nn

from collapselab.nn import init_parameters


def _model():
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4 * 6 * 6, 10),
                         nn.LayerNorm(10), nn.Embedding(5, 3), nn.MultiheadAttention(8, 2))


def _flat(m):
    return torch.cat([p.detach().ravel() for p in m.parameters()])


def test_same_generator_same_weights_and_global_state_untouched():
    models = [_model() for _ in range(3)]  # building a module draws from the global generator: before
    state = torch.random.get_rng_state()
    a = init_parameters(models[0], torch.Generator().manual_seed(3))
    b = init_parameters(models[1], torch.Generator().manual_seed(3))
    c = init_parameters(models[2], torch.Generator().manual_seed(4))
    assert torch.equal(_flat(a), _flat(b)) and not torch.equal(_flat(a), _flat(c))
    assert torch.equal(state, torch.random.get_rng_state())  # the global generator is left as it was


def test_default_laws():
    lin = init_parameters(nn.Linear(400, 50), torch.Generator().manual_seed(0)).requires_grad_(False)
    bound = 1 / 20
    assert lin.weight.abs().max() <= bound and lin.weight.std() == pytest.approx(bound / 3**0.5, rel=0.05)
    ln = init_parameters(nn.LayerNorm(7), torch.Generator().manual_seed(0)).requires_grad_(False)
    assert torch.equal(ln.weight, torch.ones(7)) and torch.equal(ln.bias, torch.zeros(7))
    with pytest.raises(ValueError, match="generator"):
        init_parameters(nn.Linear(2, 2), 0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cpu_generator_gives_same_weights_on_cuda():
    a = init_parameters(nn.Linear(8, 4), torch.Generator().manual_seed(1))
    b = init_parameters(nn.Linear(8, 4).cuda(), torch.Generator().manual_seed(1))
    assert torch.equal(a.weight, b.weight.cpu())
