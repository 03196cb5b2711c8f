import json

import numpy as np
import pytest
import torch

from collapselab.lm import (
    LMInputError,
    bin_mass,
    frequency_bins,
    read_documents,
    split_blocks,
    token_counts,
    tokenize_documents,
)


def test_plain_text_one_document_per_line(tmp_path):
    f = tmp_path / "c.txt"
    f.write_text("first doc\n\n  second doc  \nthird\n", encoding="utf-8")
    assert read_documents(f) == ["first doc", "second doc", "third"]


def test_jsonl_text_field(tmp_path):
    f = tmp_path / "c.jsonl"
    f.write_text("\n".join(json.dumps({"body": t, "id": i}) for i, t in enumerate(["a b", "c d"])) + "\n")
    assert read_documents(f, text_field="body") == ["a b", "c d"]
    with pytest.raises(LMInputError, match=r"c\.jsonl.*line 1.*'text'"):
        read_documents(f)
    f.write_text('{"text": "ok"}\nnot json\n')
    with pytest.raises(LMInputError, match="line 2 is not JSON"):
        read_documents(f)


def test_folder_of_txt_files_one_document_each(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "b.txt").write_text("bee\nline two")
    (tmp_path / "sub" / "a.txt").write_text("ay")
    (tmp_path / "skip.md").write_text("not read")
    assert read_documents(tmp_path) == ["bee\nline two", "ay"]
    assert read_documents(tmp_path, suffixes=(".md",)) == ["not read"]


def test_bad_corpora_name_the_file(tmp_path):
    with pytest.raises(LMInputError, match="nope.txt.*does not exist"):
        read_documents(tmp_path / "nope.txt")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n   \n")
    with pytest.raises(LMInputError, match="empty.txt.*no non-blank"):
        read_documents(empty)
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"ok\xff\xfe\x00garbage")
    with pytest.raises(LMInputError, match="bin.txt.*not UTF-8"):
        read_documents(binary)
    with pytest.raises(LMInputError, match="no file ending in .txt"):
        read_documents(_empty_dir(tmp_path))


def _empty_dir(tmp_path):
    d = tmp_path / "emptydir"
    d.mkdir()
    return d


class _CharTok:
    eos_token_id = 0

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [ord(c) % 50 + 1 for c in text]}


def test_tokenize_appends_eos_and_stops_at_max_tokens():
    s = tokenize_documents(["ab", "cde", "fgh"], _CharTok(), max_tokens=5)
    assert s.tolist()[-1] == 0 and s.tolist().count(0) == 2 and len(s) == 7


def test_splits_never_overlap_and_cover_distinct_positions():
    stream = np.arange(10_003)  # token value = position in the stream
    sp = split_blocks(stream, block_size=10, n_val=50, n_test=100, n_train=700, rng=3)
    pos = {name: set(getattr(sp, name).reshape(-1).tolist()) for name in ("train", "val", "test")}
    assert not (pos["train"] & pos["val"]) and not (pos["train"] & pos["test"]) and not (pos["val"] & pos["test"])
    assert (len(sp.train), len(sp.val), len(sp.test)) == (700, 50, 100)
    for name in ("train", "val", "test"):  # each block is a contiguous stretch starting at a multiple of L
        b = getattr(sp, name)
        assert torch.equal(b[:, 1:] - b[:, :-1], torch.ones_like(b[:, 1:])) and (b[:, 0] % 10 == 0).all()
    again = split_blocks(stream, block_size=10, n_val=50, n_test=100, n_train=700, rng=3)
    assert torch.equal(again.test, sp.test)


def test_split_too_small_names_the_source():
    with pytest.raises(LMInputError, match=r"corpus 'x.txt' is too small.*5 blocks.*need 12"):
        split_blocks(np.arange(50), block_size=10, n_val=1, n_test=1, n_train=10, source="corpus 'x.txt'")


def test_frequency_bins_cut_the_cumulative_mass():
    counts = np.array([0, 50, 30, 10, 6, 4])  # id 0 never seen: always in the tail
    bins = frequency_bins(counts, mass_edges=(0.5, 0.8, 0.95))
    # ranked 1(50) 2(30) 3(10) 4(6) 5(4) 0(0); mass before each: 0, .5, .8, .9, .96, 1.0
    assert bins.tolist() == [3, 0, 1, 2, 2, 3]
    assert np.allclose(bin_mass(counts, bins), [0.5, 0.3, 0.16, 0.04])
    with pytest.raises(ValueError, match="mass_edges"):
        frequency_bins(counts, mass_edges=(0.8, 0.5))


def test_token_counts_checks_ids():
    assert token_counts(torch.tensor([[0, 1, 1], [2, 2, 2]]), 4).tolist() == [1, 2, 3, 0]
    with pytest.raises(ValueError, match="outside"):
        token_counts(torch.tensor([5]), 4)


def _corpus():
    """40 documents of 6 lines; document 7 alone repeats a rare word, so its place in the split decides
    whether a BPE learned from the training side can know that word."""
    docs = []
    for i in range(40):
        lines = [f"line {j} of play {i}: the {['cat', 'dog', 'owl'][j % 3]} met the {['hen', 'cow'][i % 2]}."
                 for j in range(6)]
        if i == 7:
            lines = [f"zyzzyva quixotry zyzzyva quixotry {j}" for j in range(6)]
        docs.append("\n".join(lines))
    return docs


def test_prepare_text_learns_the_tokenizer_on_the_training_documents_only():
    from collapselab.lm import prepare_text, train_tokenizer
    from collapselab.lm.pipeline import segment_documents

    docs = _corpus()
    known = len(train_tokenizer(docs, vocab_size=300).tokenize("zyzzyva"))  # learned with its document
    assert known <= 2
    seen_held_out = False
    for seed in range(12):
        data = prepare_text(docs, block_size=16, n_train=20, n_val=2, n_test=6, vocab_size=300, rng=seed,
                            segment_chars=120)
        train, held = data.segments["train"], data.segments["held_out"]
        # the two sides partition the segments of the corpus and share no text
        assert sorted(train + held) == sorted(t for t, _ in segment_documents(docs, segment_chars=120))
        assert not set(train) & set(held) and held
        # the vocabulary is exactly the BPE of the training side
        assert data.tokenizer.get_vocab() == train_tokenizer(train, vocab_size=300).get_vocab()
        rare_held_out = any("zyzzyva" in t for t in held)
        if rare_held_out:  # never seen by the tokenizer: the word falls apart into more, shorter pieces
            seen_held_out = True
            assert len(data.tokenizer.tokenize("zyzzyva")) > known
        assert data.splits.test.shape == (6, 16) and data.splits.train.shape == (20, 16)
        held_blocks = set(data.splits.index["test"]) | set(data.splits.index["val"])
        assert not held_blocks & set(data.splits.index["train"]) and min(held_blocks) > max(data.splits.index["train"])
    assert seen_held_out


def test_segments_keep_whole_lines_and_mark_document_ends():
    from collapselab.lm.pipeline import segment_documents

    segs = segment_documents(["a\nbb\nccc", "dddd"], segment_chars=4)
    assert segs == [("a\n", False), ("bb\n", False), ("ccc", True), ("dddd", True)]
    assert segment_documents(["x" * 10], segment_chars=3) == [("x" * 10, True)]
