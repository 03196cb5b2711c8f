"""The JSON records' reader and atomic writer."""

import pytest

from collapselab.core.jsonfile import read_object, write_atomic


class RecordError(ValueError):
    pass


def test_read_object_round_trips_and_names_the_file_it_refuses(tmp_path):
    path = tmp_path / "sub" / "record.json"
    assert read_object(path, RecordError, "record") is None  # absent: nothing recorded yet
    assert write_atomic(path, {"é": [1, 2.5]}) == path and not path.with_name("record.json.tmp").exists()
    assert read_object(path, RecordError, "record") == {"é": [1, 2.5]}
    for text, why in (("[1, 2]", "a JSON object"), ("{", "readable record"), ("", "readable record")):
        path.write_text(text)
        with pytest.raises(RecordError, match=why) as exc:
            read_object(path, RecordError, "record")
        assert str(path) in str(exc.value)
