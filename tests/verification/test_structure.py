"""Shared parts of collapselab.verification: one estimate type, no import circle, reproducible models,
the summariser backends, and the CUDA path."""

import ast
from pathlib import Path

import numpy as np
import pytest
import torch

import collapselab.verification as V
from collapselab import stats

PKG = Path(V.__file__).parent


def _imports(module: str) -> set[str]:
    tree = ast.parse((PKG / f"{module}.py").read_text())
    return {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}


def test_theory_module_imports_no_simulation_module():
    deps = {m for m in _imports("_gmm") if m.startswith("collapselab.verification")}
    assert deps == set(), deps  # _gmm is the root: _generators/_verifiers/_simulate import it, not back


def test_mc_twins_return_the_stats_estimate():
    est = V.limit_accuracy_mc(np.array([1.0, 0.0]), None, 0.2, 0.9, 0.3, n=2_000, n_trials=2, rng=0)
    assert isinstance(est, stats.MCEstimate) and est.n == 2 and 0.5 < est.mean < 1


def test_new_model_weights_come_from_the_seed_only():
    a = V.new_model(11, 8, d_model=16, n_layers=1, n_heads=2, seed=5)
    torch.manual_seed(123)  # the global generator's state must not matter
    b = V.new_model(11, 8, d_model=16, n_layers=1, n_heads=2, seed=torch.Generator().manual_seed(5))
    c = V.new_model(11, 8, d_model=16, n_layers=1, n_heads=2, seed=6)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    assert not all(torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters()))


def test_tiny_summarizer_interface():
    corpus = V.make_summary_corpus(12, n_sentences=3, max_important=2, rng=0)
    s = V.TinySummarizer(n_sentences=3, max_important=2, d_model=16, n_layers=1, n_heads=2, batch_size=4)
    model = s.train(corpus.documents, corpus.summaries, 2, generator=0)
    cands = s.sample(model, corpus.documents[:3], 2, generator=1)
    assert len(cands) == 3 and all(len(row) == 2 and all(isinstance(t, str) for t in row) for row in cands)
    assert len(s.greedy(model, corpus.documents[:3])) == 3
    scores = s.score(model, corpus.documents[:3], corpus.summaries[:3])
    assert scores.shape == (3,) and np.all(scores <= 0)
    with pytest.raises(ValueError, match="lr"):
        V.TinySummarizer(lr=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_eigen_task_on_cuda():
    task = V.EigenTask(2, V.FloatCodec("digits"))
    m = V.random_symmetric_matrices(8, 2, rng=0)
    cpu = V.new_model(task.vocab_size, task.prompt_len + task.answer_len, d_model=16, n_layers=1, n_heads=2,
                      seed=3)
    gpu = V.new_model(task.vocab_size, task.prompt_len + task.answer_len, d_model=16, n_layers=1, n_heads=2,
                      seed=3, device="cuda")
    assert torch.allclose(next(cpu.parameters()), next(gpu.parameters()).cpu())  # same weights on both
    V.train_prompt_answer(gpu, task.prompts(m), task.answers(V.sorted_eigenvalues(m)), steps=2, batch_size=4,
                          device="cuda", generator=0)
    pred, tokens = V.eigen_predict(task, gpu, m, beam_size=2)
    assert pred.shape == (8, 2, 2) and tokens.device.type == "cpu"
