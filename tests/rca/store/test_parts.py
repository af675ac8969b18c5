"""Integrity: a damaged part is an error naming the file, never a different answer."""

import json
import random

import pyarrow.parquet as pq
import pytest

from rca.cli import main
from rca.store import CorruptPartError, Store, StoreError
from rca.store.parts import read_part
from tests.rca.store.helpers import parts, requests


def _store_with_rows(root, n=3000):
    store = Store(root)
    times = [f"2021-08-23T{h:02d}:{m:02d}:{s:02d}Z" for h in range(1) for m in range(50)
             for s in range(60)][:n]
    store.write("requests", requests(times, [f"r{i}" for i in range(n)],
                                     latency=[0.1 * (i % 7) for i in range(n)]))
    return store


def _flip(path, offset, count=16):
    data = bytearray(path.read_bytes())
    for i in range(offset, min(offset + count, len(data))):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def test_parts_carry_page_checksums(tmp_path):
    """A flip inside a data page is caught by Parquet's own CRC, without the manifest."""
    _store_with_rows(tmp_path)
    part = parts(tmp_path)[0]
    meta = pq.ParquetFile(part).metadata
    names = [meta.schema.column(i).name for i in range(meta.num_columns)]
    col = meta.row_group(0).column(names.index("time"))  # its pages are large: flip inside
    start = col.dictionary_page_offset or col.data_page_offset
    _flip(part, start + col.total_compressed_size // 2, 4)
    with pytest.raises(CorruptPartError, match="cannot read Parquet|checksum|CRC"):
        read_part(part, sha256=None)


def test_every_random_flip_is_detected_and_names_the_file(tmp_path):
    """200 flips of 16 bytes at random offsets: each one fails loudly (none loads)."""
    store = _store_with_rows(tmp_path)
    part = parts(tmp_path)[0]
    good = part.read_bytes()
    rng = random.Random(7)
    detected = 0
    for _ in range(200):
        part.write_bytes(good)
        _flip(part, rng.randrange(len(good)))
        with pytest.raises(CorruptPartError, match=part.name):
            store.load("requests")
        detected += 1
    assert detected == 200
    part.write_bytes(good)
    assert len(store.load("requests")) == 3000


def test_analyze_of_a_corrupt_store_exits_2_naming_the_part(tmp_path, capsys):
    _store_with_rows(tmp_path / "s")
    part = parts(tmp_path / "s")[0]
    _flip(part, part.stat().st_size // 2)
    code = main(["analyze", "--store", str(tmp_path / "s"), "--since",
                 "2021-08-23T00:00:00Z", "--until", "2021-08-24T00:00:00Z"])
    err = capsys.readouterr().err
    assert code == 2 and part.name in err and "corrupt part" in err
    assert "Traceback" not in err


def test_compact_drop_corrupt_sets_the_part_aside_and_keeps_the_rest(tmp_path, capsys):
    store = _store_with_rows(tmp_path / "s")
    store.write("requests", requests(["2021-08-24T01:00:00Z"], ["next-day"]))
    bad = parts(tmp_path / "s")[0]
    _flip(bad, 100)
    assert main(["compact", "--store", str(tmp_path / "s"), "--drop-corrupt", "-o",
                 "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [m["dropped_corrupt"] for m in out["merged"]] == [[bad.relative_to(
        tmp_path / "s").as_posix()]]
    assert (tmp_path / "s" / "corrupt" / bad.relative_to(tmp_path / "s")).exists()
    assert store.load("requests")["row_id"].tolist() == ["next-day"]


def test_a_damaged_manifest_is_a_named_error(tmp_path):
    store = _store_with_rows(tmp_path)
    manifest = tmp_path / "manifest.json"
    text = manifest.read_text()
    manifest.write_text(text.replace('"rows": 3000', '"rows": 2999'))
    with pytest.raises(StoreError, match="manifest.json: damaged manifest"):
        store.load("requests")
    manifest.write_text("{not json")
    with pytest.raises(StoreError, match="manifest.json: damaged manifest"):
        store.load("requests")


def test_a_day_the_collection_moved_past_is_not_held_in_memory(tmp_path):
    """A log read day after day: when a write holds no row of a day, that day's buffered
    rows go to its part (a row group of their own), so memory holds at most the days of
    the write in hand, and every row still lands once."""
    store = Store(tmp_path / "s")
    with store.transaction() as txn:
        txn.write("requests", requests(["2021-08-23T10:00:00Z", "2021-08-23T11:00:00Z"],
                                       ["a", "b"]))
        first = txn._writers[("requests", "2021-08-23")]
        assert first._buffered == 2  # still within its row group
        txn.write("requests", requests(["2021-08-24T10:00:00Z"], ["c"]))
        assert first._buffered == 0 and first.rows == 2
        assert txn._writers[("requests", "2021-08-24")]._buffered == 1
    got = Store(tmp_path / "s").load("requests")
    assert sorted(got["row_id"]) == ["a", "b", "c"]
