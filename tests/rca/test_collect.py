"""``rca collect`` over real-shaped files of every kind: summary, window, idempotence."""

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from rca.cli import main
from rca.store import Store, StoreError, Transaction

DATA = Path(__file__).resolve().parents[1] / "data"
WINDOW = ["--since", "2021-08-23T00:00:00+08:00", "--until", "2021-08-24T00:00:00+08:00"]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RCA_CONFIG", raising=False)


def _collect(store, capsys, *sources, window=WINDOW):
    code = main(["collect", "--store", str(store), *window, "--tz", "Asia/Shanghai",
                 "-o", "json", *sources])
    assert code == 0
    return json.loads(capsys.readouterr().out)


def test_every_log_format_lands_and_bad_lines_are_reported(tmp_path, capsys):
    out = _collect(tmp_path / "s", capsys, "--logs", str(DATA / "logs" / "*"))
    per_file = {Path(f["file"]).name: f for f in out["files"]}
    assert set(per_file) == {"coredns-cri.log", "coredns.log", "dnsmasq-cri.log",
                             "ingress-nginx.log", "nginx-combined.log", "requests.jsonl",
                             "rgw.log"}
    for name, f in per_file.items():
        if name == "coredns-cri.log":  # the one clean sample
            assert f["malformed"] == 0 and f["lines"] > 0
            continue
        assert f["malformed"] >= 1, name  # the other samples plant bad lines
        assert f["samples"] and f"{name}:" in f["samples"][0]
    assert out["malformed"] == sum(f["malformed"] for f in per_file.values())
    stored = Store(tmp_path / "s").load("requests")
    assert set(stored["side"]) == {"client", "server"}
    assert "rgw" in set(stored["service"])
    assert len(Store(tmp_path / "s").load("dns")) > 0  # CoreDNS queries in their own table
    assert out["covered"][0].endswith("+08:00")


def test_recollect_adds_no_rows(tmp_path, capsys):
    sources = ["--logs", str(DATA / "logs" / "ingress-nginx.log"),
               "--kube", str(DATA / "kube" / "mixed.json")]
    first = _collect(tmp_path / "s", capsys, *sources)
    second = _collect(tmp_path / "s", capsys, *sources)
    assert sum(first["new_rows"].values()) > 0
    assert sum(second["new_rows"].values()) == 0
    assert first["rows"] == second["rows"]


def test_rows_outside_the_window_are_counted_not_stored(tmp_path, capsys):
    narrow = ["--since", "2021-08-23T11:03:00+08:00", "--until", "2021-08-23T11:04:00+08:00"]
    out = _collect(tmp_path / "s", capsys, "--logs", str(DATA / "logs" / "ingress-nginx.log"),
                   window=narrow)
    stored = Store(tmp_path / "s").load("requests")
    assert out["outside_window"] > 0
    assert len(stored) == out["rows"].get("requests", 0)
    assert stored.index.min() >= __import__("pandas").Timestamp("2021-08-23T03:03:00Z")


def test_kube_mixed_list_fills_events_and_objects(tmp_path, capsys):
    out = _collect(tmp_path / "s", capsys, "--kube", str(DATA / "kube" / "mixed.json"),
                   window=["--since", "2019-10-01T00:00:00Z", "--until", "2019-11-01T00:00:00Z"])
    assert out["files"][0]["skipped"].get("Secret") == 1
    assert out["rows"].get("objects", 0) > 0


def test_jsonl_field_names_come_from_config(tmp_path, capsys):
    log = tmp_path / "edge.jsonl"
    log.write_text(
        '{"timestamp": "2021-08-23 11:03:05", "pc": "line-3", "model": "weld", '
        '"cost_ms": 15000, "result": "timeout"}\n'
        '{"timestamp": "2021-08-23 11:03:09", "pc": "line-3", "model": "weld", '
        '"cost_ms": 410, "result": 200}\n')
    cfg = tmp_path / "rca.yaml"
    cfg.write_text("logs:\n  jsonl_fields:\n    ts: timestamp\n    station: pc\n"
                   "    service: model\n    latency_ms: cost_ms\n    status: result\n")
    out = _collect(tmp_path / "s", capsys, "--config", str(cfg), "--logs", str(log),
                   "--log-format", "jsonl")
    assert out["malformed"] == 0
    got = Store(tmp_path / "s").load("requests")
    assert got["station"].tolist() == ["line-3", "line-3"]
    assert got["latency_s"].tolist() == [15.0, 0.41]
    # zone-less timestamps are read in --tz (Asia/Shanghai): 11:03:05 local is 03:03:05Z
    assert str(got.index[0]) == "2021-08-23 03:03:05+00:00"


def test_unrecognisable_file_is_reported_and_the_rest_still_lands(tmp_path, capsys):
    junk = tmp_path / "notes.txt"
    junk.write_text("shopping list\nmilk\n")
    code = main(["collect", "--store", str(tmp_path / "s"), *WINDOW, "-o", "json",
                 "--logs", str(junk), "--logs", str(DATA / "logs" / "ingress-nginx.log")])
    got = capsys.readouterr()
    out = json.loads(got.out)
    bad = next(f for f in out["files"] if f["file"].endswith("notes.txt"))
    assert bad["malformed"] == 1 and "pass --log-format" in bad["samples"][0]
    assert out["rows"]["requests"] > 0
    # a source that gave nothing fails the run, named with why (item 10 of issue 7)
    assert code == 1
    assert f"rca: error: {junk} gave no row: {junk}: 2 non-blank lines" in got.err


@pytest.mark.parametrize("content, why", [
    ("", "the file holds no line"),
    # an ingress controller's own output only: klog lines, no access line
    ('I0823 03:00:01.000000       7 controller.go:165] "Configuration changes detected"\n'
     'I0823 03:00:02.000000       7 controller.go:182] "Configuration changes detected"\n',
     "2 line(s): 2 not a request: klog line"),
    # every access line cut short
    ('10.0.0.1 - - [23/Aug/2021:11:03:06 +0800] "GET / HTTP/1.1" 200\n' * 3,
     "3 line(s): 3 malformed; first malformed: "),
])
def test_a_readable_file_giving_no_row_fails_the_collection_and_says_why(
        tmp_path, capsys, content, why):
    log = tmp_path / "access.log"
    log.write_text(content)
    code = main(["collect", "--store", str(tmp_path / "s"), *WINDOW, "--log-format",
                 "ingress-nginx", "--logs", str(log),
                 "--logs", str(DATA / "logs" / "ingress-nginx.log")])
    err = capsys.readouterr().err
    assert code == 1
    assert f"rca: error: {log} gave no row: {why}" in err
    assert "ingress-nginx.log gave no row" not in err  # the good one is not named


@pytest.mark.parametrize("content, fails", [
    # the API's answer for a quiet namespace: a list with no item (or null items)
    ('{"apiVersion": "v1", "kind": "List", "items": [], "metadata": {}}', False),
    ('{"apiVersion": "v1", "kind": "EventList", "items": null}', False),
    # a dump that never got written, or only its opening
    ("", True),
    ('{"apiVersion": "v1", "kind": "List", "items": [', True),
])
def test_an_empty_kube_list_is_an_answer_but_an_empty_dump_fails(tmp_path, capsys,
                                                                 content, fails):
    dump = tmp_path / "events.json"
    dump.write_text(content)
    code = main(["collect", "--store", str(tmp_path / "s"), *WINDOW, "--kube", str(dump),
                 "--logs", str(DATA / "logs" / "ingress-nginx.log")])
    err = capsys.readouterr().err
    assert code == (1 if fails else 0)
    assert (f"{dump} gave no row" in err) is fails


def test_a_file_whose_rows_are_all_outside_the_window_is_not_a_failure(tmp_path, capsys):
    """It gave rows: the window was the user's choice, and the summary counts them."""
    code = main(["collect", "--store", str(tmp_path / "s"), "--since", "2030-01-01T00:00:00Z",
                 "--until", "2030-01-02T00:00:00Z", "--logs",
                 str(DATA / "logs" / "ingress-nginx.log"), "-o", "json"])
    got = capsys.readouterr()
    assert code == 0 and "gave no row" not in got.err
    assert json.loads(got.out)["outside_window"] > 0


def test_event_repeating_through_the_window_is_kept(tmp_path, capsys):
    # the rook-ceph sample: a liveness kill repeated x65 from 08-20 to 08-23 (UTC)
    window = ["--since", "2021-08-21T00:00:00Z", "--until", "2021-08-22T00:00:00Z"]
    _collect(tmp_path / "s", capsys, "--kube", str(DATA / "kube" / "events-rook-ceph.json"),
             window=window)
    import pandas as pd

    events = Store(tmp_path / "s").load("events", pd.Timestamp("2021-08-21T00:00Z"),
                                        pd.Timestamp("2021-08-22T00:00Z"))
    killing = events[events["reason"] == "Killing"]
    assert len(killing) == 1
    assert killing["last_seen"].iloc[0] > pd.Timestamp("2021-08-22T00:00Z")
    assert killing["count"].iloc[0] == 65


class _FakeLive:
    """A live source that yields one batch of rows (one outside the window) and a gap."""

    name = "fake"

    def fetch(self, since, until, ctx):
        import pandas as pd

        from collectors.base import Batch
        from rca import live, record

        rows = [{"time": since + pd.Timedelta(minutes=m), "row_id": f"r{m}", "name": "x_total",
                 "entity": "node/a", "labels": "{}", "value": 1.0} for m in (1, 2)]
        rows.append({**rows[0], "time": until + pd.Timedelta(minutes=1), "row_id": "late"})
        batch = Batch("fake: x", {"metrics": record.frame("metrics", rows)}, lines=1)
        batch.gaps.append(live.Gap("fake", "signal y", "HTTP 503: down", since, until))
        yield batch


def test_live_sources_go_through_the_window_store_and_record(tmp_path, capsys, monkeypatch):
    from rca import live

    monkeypatch.setattr(live, "factories", lambda: [lambda config, flags: [_FakeLive()]])
    out = _collect(tmp_path / "s", capsys)
    assert out["rows"] == {"metrics": 2} and out["outside_window"] == 1
    assert [(g["source"], g["what"], g["reason"]) for g in out["gaps"]] == [
        ("fake", "signal y", "HTTP 503: down")]
    assert out["gaps"][0]["since"].endswith("+08:00")  # shown in the user's zone
    record = json.loads(next((tmp_path / "s" / "collections").glob("*.json")).read_text())
    assert record["gaps"][0]["reason"] == "HTTP 503: down"
    again = _collect(tmp_path / "s", capsys)
    assert again["new_rows"] == {"metrics": 0}  # re-collecting duplicates nothing


def _unreadable(tmp_path):
    """A file the system will not hand over: mode 000 for a normal user; for root (who
    reads anything) /proc/self/mem, whose first page read fails with EIO, like a file
    on a sick NFS mount (seed 002)."""
    if os.geteuid() != 0:
        locked = tmp_path / "locked.log"
        locked.write_text((DATA / "logs" / "ingress-nginx.log").read_text())
        locked.chmod(0)
        return locked
    return Path("/proc/self/mem")


def test_unreadable_input_is_an_error_naming_it_and_the_rest_lands(tmp_path, capsys):
    bad = _unreadable(tmp_path)
    code = main(["collect", "--store", str(tmp_path / "s"), *WINDOW, "-o", "json",
                 "--logs", str(bad), "--logs", str(DATA / "logs" / "ingress-nginx.log")])
    out = capsys.readouterr()
    assert code == 1  # a named source is missing from the record ...
    assert f"rca: error: cannot read {bad}:" in out.err
    summary = json.loads(out.out)
    entry = next(f for f in summary["files"] if f["file"] == str(bad))
    assert entry["error"] and entry["malformed"] == 0  # an error, not a "malformed line"
    assert summary["rows"]["requests"] > 0  # ... and what the others gave still landed


def test_nothing_readable_is_a_failed_collection(tmp_path, capsys):
    bad = _unreadable(tmp_path)
    code = main(["collect", "--store", str(tmp_path / "s"), *WINDOW, "--logs", str(bad)])
    assert code == 1
    assert f"cannot read {bad}" in capsys.readouterr().err


def test_streamed_collection_stores_what_one_piece_stores(tmp_path, capsys, monkeypatch):
    """Tiny blocks, metrics chunks and flush threshold: many blocks and many store merges,
    the same rows, counts and malformed samples as the files read and merged in one piece."""
    from collectors import metrics_file
    from collectors.logs import blocks
    from rca import collect

    sources = ["--logs", str(DATA / "logs" / "*"), "--kube", str(DATA / "kube" / "mixed.json"),
               "--metrics-file", str(DATA / "metrics" / "node_exporter.om")]
    whole = _collect(tmp_path / "whole", capsys, *sources)
    writes = []
    write = Transaction.write
    monkeypatch.setattr(Transaction, "write",
                        lambda self, t, df: writes.append(t) or write(self, t, df))
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 1500)
    monkeypatch.setattr(blocks, "READ_BYTES", 256)  # small reads: many blocks
    monkeypatch.setattr(collect, "FLUSH_ROWS", 5)
    monkeypatch.setattr(metrics_file, "CHUNK_SAMPLES", 3)  # a metrics file in chunks too
    streamed = _collect(tmp_path / "streamed", capsys, *sources)
    assert writes.count("requests") > 5 and writes.count("metrics") > 2
    for key in ("rows", "new_rows", "malformed", "files"):
        assert streamed[key] == whole[key], key
    for table in ("requests", "dns", "events", "metrics"):
        a, b = Store(tmp_path / "whole").load(table), Store(tmp_path / "streamed").load(table)
        assert len(a) > 0
        pd.testing.assert_frame_equal(a.sort_values("row_id"), b.sort_values("row_id"))


def test_a_write_failing_in_its_thread_fails_the_collection_and_stores_nothing(
        tmp_path, monkeypatch):
    """Writes run in a thread of their own, beside the reading: the error of one that
    fails is raised by ``collect`` as the store's (not taken for the log file being
    unreadable) and the transaction aborts (no row visible)."""
    from collectors.logs import blocks
    from rca import collect
    from rca.collect import Source
    from rca.config import load
    from rca.timeutil import get_zone

    monkeypatch.setattr(blocks, "BLOCK_BYTES", 1500)
    monkeypatch.setattr(blocks, "READ_BYTES", 256)  # small reads: many blocks
    monkeypatch.setattr(collect, "FLUSH_ROWS", 5)
    calls = []
    write = Transaction.write

    def third_fails(self, table, df):
        calls.append(table)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return write(self, table, df)

    monkeypatch.setattr(Transaction, "write", third_fails)
    path = tmp_path / "access.log"
    path.write_bytes((DATA / "logs" / "ingress-nginx.log").read_bytes() * 20)
    store = Store(tmp_path / "s")
    with pytest.raises(StoreError, match="No space left"):
        collect.collect(store, [Source("logs", path)], pd.Timestamp("2021-08-22", tz="UTC"),
                        pd.Timestamp("2021-08-24", tz="UTC"), load(None), get_zone("UTC"))
    assert len(calls) == 3  # the failure stopped the collection at the next write
    assert store.tables().get("requests", 0) == 0


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_progress_moves_with_the_bytes_read_not_per_file(tmp_path, monkeypatch, gz):
    """The bar is told how far into each file a read got, many times per file, and ends
    at the file's size (a .gz: its compressed size, which is what the bar's total is)."""
    import gzip

    from collectors.logs import blocks
    from rca.collect import Source, collect
    from rca.config import load
    from rca.timeutil import get_zone

    monkeypatch.setattr(blocks, "BLOCK_BYTES", 2000)
    monkeypatch.setattr(blocks, "READ_BYTES", 1000)
    text = (DATA / "logs" / "ingress-nginx.log").read_bytes() * 20
    path = tmp_path / ("access.log.1.gz" if gz else "access.log")
    path.write_bytes(gzip.compress(text) if gz else text)
    seen: list[tuple[str, int]] = []
    collect(Store(tmp_path / "s"), [Source("logs", path)], pd.Timestamp("2021-08-22", tz="UTC"),
            pd.Timestamp("2021-08-24", tz="UTC"), load(None), get_zone("UTC"),
            on_bytes=lambda src, n: seen.append((src.path.name, n)))
    positions = [n for _, n in seen]
    assert len(positions) >= 3 if gz else len(positions) >= len(text) // 1000
    assert positions == sorted(positions) and positions[-1] == path.stat().st_size
    assert {name for name, _ in seen} == {path.name}
