"""Language models and model collapse on real text (papers: Strong Model Collapse, A Tale of Tails,
Beyond Model Collapse): causal LMs over Hugging Face ``transformers`` (a small GPT-2 built from a config,
or a local safetensors checkpoint), local corpora split into disjoint blocks, training, perplexity and
tail loss, generation with tail-cutting sampling, and recursive generation chains.

Usable without the experiment framework::

    from collapselab import lm
    docs = lm.read_documents("my_corpus.jsonl")
    data = lm.prepare_text(docs, block_size=64, n_train=2000, n_val=50, n_test=200, rng=0)
    model = lm.small_gpt2(data.vocab_size, generator=torch.Generator().manual_seed(0))
    lm.train_causal_lm(model, data.splits.train, steps=200, generator=torch.Generator().manual_seed(1))
    lm.evaluate_lm(model, data)   # {"loss", "ppl", "bin_loss", "tail_loss"}
"""

from collapselab.lm._errors import LMInputError
from collapselab.lm.chain import (
    STRATEGIES,
    ChainResult,
    generated_bin_mass,
    recursive_chain,
    synthesize_blocks,
    training_set,
)
from collapselab.lm.corpus import (
    Splits,
    bin_mass,
    frequency_bins,
    read_documents,
    split_blocks,
    token_counts,
    tokenize_documents,
)
from collapselab.lm.evaluate import binned_loss, perplexity, token_nll
from collapselab.lm.generate import draw_categorical, filter_logits, sample_continuations
from collapselab.lm.model import (
    check_model_dir,
    init_gpt2_,
    load_causal_lm,
    load_tokenizer,
    save_causal_lm,
    small_gpt2,
    train_tokenizer,
)
from collapselab.lm.pipeline import TextData, evaluate_lm, model_factory, prepare_text
from collapselab.lm.train import lm_loss, lr_at, train_causal_lm

__all__ = ["STRATEGIES", "ChainResult", "LMInputError", "Splits", "TextData", "bin_mass", "binned_loss",
           "check_model_dir", "draw_categorical", "evaluate_lm", "filter_logits", "frequency_bins",
           "generated_bin_mass", "init_gpt2_",
           "lm_loss", "load_causal_lm", "load_tokenizer", "lr_at", "model_factory", "perplexity", "prepare_text",
           "read_documents", "recursive_chain", "sample_continuations", "save_causal_lm", "small_gpt2", "split_blocks",
           "synthesize_blocks", "token_counts", "token_nll", "tokenize_documents", "train_causal_lm",
           "train_tokenizer",
           "training_set"]
