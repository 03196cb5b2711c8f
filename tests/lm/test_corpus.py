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
