import math

import pytest
import torch

from collapselab.nn import DecoderLM
from collapselab.nn.attention import LinearAttention, SparseAttention, elu_feature_map, sparse_mask


def loop_mask(length, block, pattern, summary=1):
    """Per-query reference of the Child et al. patterns."""
    m = torch.zeros(length, length, dtype=torch.bool)
    for i in range(length):
        for j in range(i + 1):
            if pattern == "fixed":
                m[i, j] = (i // block == j // block) or (j % block >= block - summary)
            else:
                m[i, j] = (i - j < block) or ((i - j) % block == 0)
    return m


@pytest.mark.parametrize("length, block, pattern, summary", [(13, 4, "fixed", 1), (16, 3, "fixed", 2),
                                                              (11, 4, "strided", 1), (9, 1, "strided", 1)])
def test_sparse_mask_equals_loop_reference(length, block, pattern, summary):
    assert torch.equal(sparse_mask(length, block, pattern, summary), loop_mask(length, block, pattern, summary))


def test_sparse_attention_equals_per_query_loop():
    torch.manual_seed(0)
    att = SparseAttention(8, 2, 12, block=3).eval()
    x = torch.randn(2, 12, 8)
    y = att(x)
    q, k, v = att.split_heads(x)
    ref = torch.zeros_like(q)
    mask = loop_mask(12, 3, "fixed")
    for i in range(12):
        s = (q[:, :, i:i + 1] @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])  # (B, nh, 1, T)
        s = s.masked_fill(~mask[i], float("-inf"))
        ref[:, :, i] = (s.softmax(-1) @ v)[:, :, 0]
    assert torch.allclose(y, att.merge_heads(ref), atol=1e-5)


@pytest.mark.parametrize("chunk", [1, 3, 64])  # one position per chunk, chunks with a remainder, one chunk
def test_linear_parallel_equals_recurrent_and_explicit_formula(chunk):
    torch.manual_seed(1)
    att = LinearAttention(8, 2, 10, chunk=chunk).eval()
    x = torch.randn(3, 10, 8)
    y = att(x)
    state = att.init_state(3)
    steps = []
    for t in range(10):
        out, state = att.step(x[:, t:t + 1], state, t)
        steps.append(out)
    assert torch.allclose(y, torch.cat(steps, 1), atol=1e-5)
    assert state["S"].shape == (3, 2, 4, 4)  # constant-size state, whatever the length
    q, k, v = att.split_heads(x)
    fq, fk = elu_feature_map(q), elu_feature_map(k)
    w = torch.tril(fq @ fk.transpose(-1, -2))  # (B, nh, T, T): phi(q_i).phi(k_j), j <= i
    ref = (w @ v) / (w.sum(-1, keepdim=True) + att.eps)
    assert torch.allclose(y, att.merge_heads(ref), atol=1e-5)


@pytest.mark.parametrize("attention", ["softmax", "sparse", "linear"])
def test_cached_decoding_matches_full_recomputation(attention):
    torch.manual_seed(2)
    lm = DecoderLM(17, d_model=16, n_layers=2, n_heads=2, max_len=30, attention=attention)
    idx = torch.randint(0, 17, (2, 6))
    assert torch.equal(lm.generate(idx, 12), lm.generate_cached(idx, 12))


def test_decoder_start_skips_the_head_and_generator_initialises_reproducibly():
    g = lambda: torch.Generator().manual_seed(5)  # noqa: E731
    a = DecoderLM(11, d_model=8, n_layers=1, n_heads=2, max_len=9, attention="linear", generator=g())
    b = DecoderLM(11, d_model=8, n_layers=1, n_heads=2, max_len=9, attention="linear", generator=g())
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    idx = torch.randint(0, 11, (2, 7))
    assert torch.allclose(a(idx, start=4), a(idx)[:, 4:])
    with pytest.raises(ValueError, match="start"):
        a(idx, start=7)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("attention", ["softmax", "sparse", "linear"])
def test_attention_on_cuda_matches_cpu(attention):
    torch.manual_seed(4)
    lm = DecoderLM(13, d_model=16, n_layers=2, n_heads=2, max_len=20, attention=attention).eval()
    idx = torch.randint(0, 13, (2, 20))
    cpu = lm(idx)
    gpu = lm.to("cuda")(idx.to("cuda")).cpu()
    assert torch.allclose(cpu, gpu, atol=1e-4)
    assert torch.equal(lm.generate(idx[:, :5].cuda(), 8), lm.generate_cached(idx[:, :5].cuda(), 8))


@pytest.mark.parametrize("block, pattern, summary", [(4, "fixed", 1), (3, "fixed", 2), (4, "strided", 1)])
def test_sparse_decoding_gathers_exactly_the_allowed_keys(block, pattern, summary):
    att = SparseAttention(8, 2, 23, block=block, pattern=pattern, summary=summary)
    mask = loop_mask(23, block, pattern, summary)
    for pos in range(23):
        assert att.allowed(pos).tolist() == mask[pos].nonzero().flatten().tolist()
    torch.manual_seed(6)
    att.eval()
    x = torch.randn(2, 23, 8)
    state = att.init_state(2)
    steps = []
    for t in range(23):
        out, state = att.step(x[:, t:t + 1], state, t)
        steps.append(out)
    assert torch.allclose(att(x), torch.cat(steps, 1), atol=1e-5)
