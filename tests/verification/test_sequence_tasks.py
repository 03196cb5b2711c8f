"""Beam search, sampling, training, and the eigenvalue / summarisation tasks."""

import itertools

import numpy as np
import pytest
import torch

from collapselab.verification import (
    EigenTask,
    FloatCodec,
    WordVocab,
    answer_logprob,
    beam_search,
    eigen_predict,
    make_summary_corpus,
    new_model,
    random_symmetric_matrices,
    reference_summary,
    relative_l1_error,
    rouge_scores,
    sample_answers,
    sorted_eigenvalues,
    train_prompt_answer,
)


@pytest.fixture(scope="module")
def tiny():
    return new_model(5, 8, d_model=16, n_layers=1, n_heads=2, seed=3)


def test_beam_search_finds_the_exhaustive_argmax(tiny):
    prompts = torch.tensor([[0, 1, 2, 3], [4, 3, 2, 1]])
    out = beam_search(tiny, prompts, beam_size=125, max_new_tokens=3)  # 5^3: every answer kept
    for b in range(2):
        answers = torch.tensor(list(itertools.product(range(5), repeat=3)))
        lp = answer_logprob(tiny, prompts[b].expand(len(answers), -1), answers)
        assert torch.equal(out.tokens[b, 0], answers[lp.argmax()])
        assert out.logprob[b, 0] == pytest.approx(float(lp.max()), abs=1e-4)
        assert torch.all(out.logprob[b, :-1] >= out.logprob[b, 1:] - 1e-6)  # best first


def test_beam_scores_are_answer_logprobs_and_beat_greedy(tiny):
    prompts = torch.randint(0, 5, (6, 4), generator=torch.Generator().manual_seed(0))
    beams = beam_search(tiny, prompts, beam_size=3, max_new_tokens=4)
    for j in range(3):
        lp = answer_logprob(tiny, prompts, beams.tokens[:, j])
        assert torch.allclose(beams.logprob[:, j], lp, atol=1e-4)
    greedy = sample_answers(tiny, prompts, num_samples=1, max_new_tokens=4, temperature=0.0)
    assert torch.equal(beam_search(tiny, prompts, beam_size=1, max_new_tokens=4).tokens, greedy.tokens)
    assert torch.all(beams.logprob[:, 0] >= greedy.logprob[:, 0] - 1e-5)


def test_stop_token_and_constraints(tiny):
    prompts = torch.zeros((3, 4), dtype=torch.long)
    out = beam_search(tiny, prompts, beam_size=2, max_new_tokens=5, stop_token=4,
                      allowed=lambda step, prefix: torch.tensor([False, False, True, False, True]))
    assert set(out.tokens.unique().tolist()) <= {2, 4}
    for row in out.tokens.reshape(-1, 5):  # after the stop token, only the stop token
        hit = (row == 4).nonzero()
        if len(hit):
            assert torch.all(row[hit[0, 0]:] == 4)
    s1 = sample_answers(tiny, prompts, num_samples=4, max_new_tokens=5, temperature=1.0, generator=7)
    s2 = sample_answers(tiny, prompts, num_samples=4, max_new_tokens=5, temperature=1.0, generator=7)
    assert torch.equal(s1.tokens, s2.tokens) and s1.tokens.shape == (3, 4, 5)


def test_training_learns_to_copy():
    g = torch.Generator().manual_seed(0)
    digits = torch.randint(1, 6, (256, 3), generator=g)
    prompts = torch.cat([digits, torch.zeros(256, 1, dtype=torch.long)], 1)  # (256, 4): 3 tokens + SEP
    answers = prompts[:, :3].clone()
    model = new_model(6, 7, d_model=32, n_layers=2, n_heads=2, seed=0)
    losses = train_prompt_answer(model, prompts, answers, steps=80, batch_size=32, lr=5e-3, generator=0)
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])
    with pytest.raises(ValueError, match="steps"):
        train_prompt_answer(model, prompts, answers, steps=-1)


@pytest.mark.parametrize("mantissa", ["base1000", "digits"])
def test_codec_roundtrip(mantissa):
    codec = FloatCodec(mantissa)
    v = np.random.default_rng(0).uniform(-30, 30, 1000)
    back = codec.decode(codec.encode(v))
    assert np.all(np.abs(back - v) <= 5e-3 * np.abs(v) + 1e-9)  # 3 significant digits
    assert codec.decode(codec.encode(np.array([0.0])))[0] == 0.0
    bad = codec.encode(np.array([1.5]))
    bad[..., 0] = codec.exp_offset  # an exponent token where the sign belongs
    assert np.isnan(codec.decode(bad)[0])
    assert codec.allowed_tokens(0).sum() == 2
    assert codec.allowed_tokens(codec.tokens_per_number - 1).sum() == codec.e_max - codec.e_min + 1


def test_eigen_task_and_prediction_shapes():
    m = random_symmetric_matrices(20, 3, rng=0)
    assert np.allclose(m, np.swapaxes(m, 1, 2)) and np.abs(m).max() <= 10
    e = sorted_eigenvalues(m)
    assert np.all(np.diff(e, axis=1) <= 0)
    assert np.allclose(e.sum(1), np.trace(m, axis1=1, axis2=2))
    task = EigenTask(3)
    assert task.prompts(m).shape == (20, 6 * 3 + 1) and task.answers(e).shape == (20, 9)
    assert np.all(task.correct(task.decode(task.answers(e).numpy()), e))
    model = new_model(task.vocab_size, task.prompt_len + task.answer_len, d_model=16, n_layers=1, n_heads=2)
    pred, tokens = eigen_predict(task, model, m[:4], beam_size=3)
    assert pred.shape == (4, 3, 3) and not np.isnan(pred).any()  # constrained decoding: always parseable
    assert relative_l1_error(np.full((1, 2), np.nan), np.ones((1, 2)))[0] == np.inf
    with pytest.raises(ValueError, match="pred"):
        relative_l1_error(np.ones((2, 3)), np.ones((2, 2)))
    with pytest.raises(ValueError, match="mantissa"):
        FloatCodec("hex")


def test_summary_corpus_and_rouge():
    corpus = make_summary_corpus(50, rng=0)
    vocab = WordVocab()
    for d, s in zip(corpus.documents, corpus.summaries):
        assert s == reference_summary(d) and 1 <= s.count(";") <= 3
        assert vocab.decode(vocab.encode(s)) == s
    prompts = vocab.prompts(corpus.documents)
    assert prompts.shape == (50, 26)
    ans, mask = vocab.answers(corpus.summaries, 13)
    assert mask.sum(1).tolist() == [len(s.split()) + 1 for s in corpus.summaries]
    r = rouge_scores(corpus.summaries[:3], corpus.summaries[:3])
    assert np.allclose(r["rougeL"], 1.0)
    assert rouge_scores(["alice buys"], ["bob sells"])["rougeL"][0] == 0.0
    with pytest.raises(ValueError, match="predictions"):
        rouge_scores(["a"], [])


def test_hf_summarizer_refuses_a_missing_folder_with_the_lm_loader_error(tmp_path):
    from collapselab.lm import LMInputError
    from collapselab.verification import HFSummarizer

    with pytest.raises(LMInputError, match="missing' is not a local model folder"):
        HFSummarizer(str(tmp_path / "missing"))


def test_hf_finetune_learns_and_is_reproducible(tmp_path):
    from collapselab.lm import load_causal_lm, save_causal_lm, small_gpt2, train_tokenizer
    from collapselab.verification._hf import finetune_causal_lm

    docs = [f"The {w} sat on the mat, number {i}." for i, w in enumerate(["cat", "dog", "fox", "owl"] * 4)]
    sums = [d.split()[1] for d in docs]
    tok = train_tokenizer(docs, vocab_size=260)
    folder = save_causal_lm(small_gpt2(len(tok), n_layer=1, n_embd=16, n_head=2, n_positions=128,
                                       generator=torch.Generator().manual_seed(0)), tok, tmp_path / "tiny")
    runs = []
    for _ in range(2):
        model, t = load_causal_lm(folder)
        runs.append(finetune_causal_lm(model, t, docs, sums, steps=15, batch_size=4, lr=1e-2, generator=3))
        assert not model.training
    assert runs[0] == runs[1] and len(runs[0]) == 15
    assert sum(runs[0][-3:]) < sum(runs[0][:3])
    with pytest.raises(ValueError, match="same length"):
        finetune_causal_lm(model, t, docs, sums[:-1], steps=1)


def test_cached_and_recomputed_decoding_agree(tiny):
    prompts = torch.randint(0, 5, (4, 3), generator=torch.Generator().manual_seed(2))
    a = beam_search(tiny, prompts, beam_size=3, max_new_tokens=4, stop_token=4, cache=True)
    b = beam_search(tiny, prompts, beam_size=3, max_new_tokens=4, stop_token=4, cache=False)
    assert torch.equal(a.tokens, b.tokens) and torch.allclose(a.logprob, b.logprob, atol=1e-5)
    s = [sample_answers(tiny, prompts, num_samples=2, max_new_tokens=4, generator=5, cache=c) for c in (1, 0)]
    assert torch.equal(s[0].tokens, s[1].tokens) and torch.allclose(s[0].logprob, s[1].logprob, atol=1e-5)


def _answer_logits_reference(model, idx, start):
    """The forward pass that ``_seqmodel`` once spelled out itself (before it called ``model(idx, start=...)``)."""
    x = model.tok(idx) + model.pos(torch.arange(idx.shape[1], device=idx.device))
    for block in model.blocks:
        x = block(x)
    return model.head(model.ln_f(x[:, start:]))


def test_decoding_calls_the_model_forward_bit_for_bit(tiny):
    g = torch.Generator().manual_seed(7)
    prompts, answers = torch.randint(0, 5, (6, 3), generator=g), torch.randint(0, 5, (6, 4), generator=g)
    seq = torch.cat([prompts, answers], 1)
    with torch.no_grad():
        ref = torch.log_softmax(_answer_logits_reference(tiny, seq[:, :-1], 2).float(), -1)
        expected = ref.gather(2, seq[:, 3:, None]).squeeze(2).sum(1)
        last = torch.log_softmax(_answer_logits_reference(tiny, prompts, 2)[:, -1].float(), -1)
    assert torch.equal(answer_logprob(tiny, prompts, answers), expected)
    greedy = beam_search(tiny, prompts, beam_size=1, max_new_tokens=1, cache=False)
    assert torch.equal(greedy.tokens[:, 0, 0], last.argmax(1))
    assert torch.equal(greedy.logprob[:, 0], last.max(1).values)


def test_hf_greedy_summary_ignores_its_batch_neighbours(tmp_path):
    """Prompts are padded on the left whatever the tokenizer's own padding side: a document's greedy summary is
    the same alone and beside a longer one."""
    from collapselab.lm import load_causal_lm, save_causal_lm, small_gpt2, train_tokenizer
    from collapselab.verification._hf import sample_summaries

    docs = ["the cat sat", "the dog ran to the gate and back to the mat again"]
    tok = train_tokenizer(docs, vocab_size=270)
    folder = save_causal_lm(small_gpt2(len(tok), n_layer=1, n_embd=16, n_head=2, n_positions=64,
                                       generator=torch.Generator().manual_seed(0)), tok, tmp_path / "tiny")
    model, t = load_causal_lm(folder)
    assert t.padding_side == "right"
    both = sample_summaries(model, t, docs, num_samples=1, temperature=0.0, max_new_tokens=6)
    alone = sample_summaries(model, t, docs[:1], num_samples=1, temperature=0.0, max_new_tokens=6)
    assert both[0] == alone[0]
