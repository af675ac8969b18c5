"""Collection records: written atomically by the store, a damaged one named in the error."""

import json

import pytest

from rca.cli import main
from rca.store import Store, StoreError
from tests.rca.store.helpers import requests

WINDOW = ["--since", "2021-08-23T00:00:00Z", "--until", "2021-08-24T00:00:00Z"]


def _record(**extra):
    return {"since": "2021-08-23T00:00:00+00:00", "until": "2021-08-24T00:00:00+00:00",
            "files": [], **extra}


def test_records_round_trip_and_never_overwrite(tmp_path):
    store = Store(tmp_path)
    first = store.save_collection(_record(n=1))
    second = store.save_collection(_record(n=2))
    assert first != second
    assert [r["n"] for r in store.collections()] == [1, 2]


@pytest.mark.parametrize("text", ["{\"since\": ", "[1, 2]", "{\"since\": \"x\"}", "\xff"])
def test_a_damaged_record_is_an_error_naming_its_file(tmp_path, text):
    store = Store(tmp_path)
    store.save_collection(_record())
    bad = tmp_path / "collections" / "zz-broken.json"
    bad.write_bytes(text.encode("latin-1"))
    with pytest.raises(StoreError, match="zz-broken.json"):
        store.collections()


def test_analyze_with_a_damaged_record_exits_2_with_one_line(tmp_path, capsys):
    Store(tmp_path).write("requests", requests(["2021-08-23T03:00:00Z"], ["a"]))
    (tmp_path / "collections").mkdir()
    (tmp_path / "collections" / "x.json").write_text("{")
    assert main(["analyze", "--store", str(tmp_path), *WINDOW, "-o", "json"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("rca: error: ") and "x.json" in err[-1]
    assert not any("Traceback" in line for line in err)


def test_collect_writes_its_record_through_the_store(tmp_path, capsys):
    log = tmp_path / "a.jsonl"
    log.write_text(json.dumps({"ts": "2021-08-23T03:00:00Z", "latency_ms": 5, "status": 200,
                               "service": "s"}) + "\n")
    assert main(["collect", "--store", str(tmp_path / "s"), *WINDOW, "--logs", str(log),
                 "-o", "json"]) == 0
    (rec,) = Store(tmp_path / "s").collections()
    assert rec["files"][0]["file"] == str(log) and rec["new"] == {"requests": 1}
