import pytest
import torch

from collapselab.nn import DecoderLM
from collapselab.nn.attention import sparse_mask
from collapselab.reasoning import attention_flops_per_token, decode_time_per_token, generation_time_per_token
from collapselab.reasoning._cost import _sparse_count


def test_flop_formula_orders():
    f = attention_flops_per_token
    assert f("softmax", 32, 1000) > f("sparse", 32, 1000) > f("linear", 32, 1000)
    assert f("linear", 32, 10) == f("linear", 32, 10000)  # recurrent cost does not depend on length
    assert f("softmax", 32, 2000) - f("softmax", 32, 1000) == pytest.approx(2 * 4 * 1000 * 32)  # 4 t D per layer
    with pytest.raises(ValueError, match="attention"):
        f("flash", 32, 10)


@pytest.mark.parametrize("pattern", ["fixed", "strided"])
@pytest.mark.parametrize("block", [1, 3, 8])
def test_sparse_key_count_matches_the_mask(pattern, block):
    # the closed-form count the FLOP formula uses agrees with the mask's rows, for both patterns
    mask = sparse_mask(300, block, pattern)
    assert [_sparse_count(t, block, pattern) for t in range(1, 301)] == mask.sum(1).tolist()
    with pytest.raises(ValueError, match="pattern"):
        attention_flops_per_token("sparse", 32, 10, pattern="local")


@pytest.mark.parametrize("attention", ["softmax", "sparse", "linear"])
def test_decode_time_is_positive_from_a_prefilled_state(attention):
    kw = {"attn_kwargs": {"block": 4}} if attention == "sparse" else {}
    assert decode_time_per_token(attention, 16, 40, batch=2, measure=3, **kw) > 0
    with pytest.raises(ValueError, match="context"):
        decode_time_per_token(attention, 16, 1)


def test_generation_time_of_a_model():
    lm = DecoderLM(11, d_model=16, n_layers=1, n_heads=2, max_len=12, generator=torch.Generator().manual_seed(0))
    prompts = torch.randint(0, 11, (4, 5))
    assert generation_time_per_token(lm, prompts, 7, repeats=1) > 0
    with pytest.raises(ValueError, match="max_len"):
        generation_time_per_token(lm, prompts, 8)
