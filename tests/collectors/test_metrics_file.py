"""Reading metrics files: exact values, where each sample sits, and bad lines accounted for."""

from __future__ import annotations

import json
import math
from datetime import UTC
from pathlib import Path

import pandas as pd
import pytest

from collectors.base import ParseContext
from collectors.metrics_file import read_metrics_file
from rca import record

DATA = Path(__file__).resolve().parents[1] / "data" / "metrics"
T0 = pd.Timestamp("2021-08-23T00:00:00Z")
COLLECTED_AT = pd.Timestamp("2021-08-23T00:05:00Z")


def read(path, keep: int = 3, **settings):
    ctx = ParseContext(file=Path(path).name, zone=UTC, settings=settings)
    return read_metrics_file(path, ctx, keep=keep)


def rows(df: pd.DataFrame, name: str, **labels) -> pd.DataFrame:
    """Rows of ``name`` whose labels include ``labels``."""
    keep = df["labels"].map(lambda text: labels.items() <= json.loads(text).items())
    return df[(df["name"] == name) & keep]


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "m.txt"
    path.write_text(text)
    return path


def test_openmetrics_samples_read_exactly():
    batch = read(DATA / "node_exporter.om")
    df = batch.frames["metrics"]
    failed = rows(df, "node_nf_conntrack_stat_insert_failed", instance="10.0.0.11:9100")
    assert failed["value"].tolist() == [100.0, 130.0, 10.0, 40.0, 70.0]  # reset kept as is
    assert list(failed.index) == [T0 + pd.Timedelta(seconds=15 * k) for k in range(5)]
    assert str(failed.index.tz) == "UTC"
    labels = '{"instance":"10.0.0.11:9100","job":"node-exporter"}'
    assert set(failed["labels"]) == {labels}
    ts_ns = (T0 + pd.Timedelta(seconds=30)).value
    assert failed["row_id"].iloc[2] == record.row_id(
        "node_nf_conntrack_stat_insert_failed", labels, ts_ns)
    speed = rows(df, "node_network_speed_bytes", device="eth0", node="worknode2")
    assert speed["value"].tolist() == [125000000.0]


def test_entity_comes_from_node_then_pod_then_instance():
    om = read(DATA / "node_exporter.om").frames["metrics"]
    dns = read(DATA / "coredns.om").frames["metrics"]
    text = read(DATA / "node_exporter.prom", metrics_time=COLLECTED_AT).frames["metrics"]
    assert set(rows(om, "node_load1", instance="10.0.0.12:9100")["entity"]) == {"node/worknode2"}
    assert set(rows(om, "node_load1", instance="10.0.0.11:9100")["entity"]) == {"node/10.0.0.11"}
    assert set(rows(dns, "coredns_dns_requests_total", pod="coredns-558bd4d5db-q9m4d")["entity"]) \
        == {"pod/kube-system/coredns-558bd4d5db-q9m4d"}
    assert rows(text, "node_load1")["entity"].tolist() == ["node/10.0.0.13", ""]
    restarts = rows(text, "kube_pod_container_status_restarts_total")
    assert restarts["entity"].tolist() == ["pod/inference/resnet-7d9f6c-x2x8q"]


def test_histograms_exemplars_escapes_and_empty_labels():
    batch = read(DATA / "coredns.om")
    df = batch.frames["metrics"]
    assert (batch.lines, batch.malformed, len(df)) == (106, 0, 106)
    pod = "coredns-558bd4d5db-7xk2p"
    aaaa = rows(df, "coredns_dns_requests_total", pod=pod, type="AAAA")
    assert aaaa["value"].iloc[-1] == 1400.0  # the exemplar after it is not the value
    bucket = rows(df, "coredns_dns_request_duration_seconds_bucket", pod=pod, le="0.004")
    assert bucket["value"].tolist() == [1200.0, 1230.0, 1260.0, 1290.0, 1320.0]
    assert "view" not in json.loads(aaaa["labels"].iloc[0])  # view="" means no view label
    assert set(rows(df, "coredns_dns_request_duration_seconds_bucket")["labels"].map(
        lambda t: json.loads(t)["le"])) == {"0.001", "0.004", "0.016", "0.064", "0.256",
                                             "1.024", "+Inf"}
    info = json.loads(rows(df, "coredns_build_info")["labels"].iloc[0])
    assert info["goversion"] == 'go1.16.4 "patched" \\vendor\nline2'


def test_malformed_lines_counted_with_line_numbers_and_field():
    batch = read(DATA / "node_exporter.om")
    assert (batch.lines, batch.malformed, len(batch.frames["metrics"])) == (40, 2, 38)
    assert [(m.file, m.line, m.field) for m in batch.samples] == [
        ("node_exporter.om", 49, "labels"), ("node_exporter.om", 50, "value")]
    assert "high" in batch.samples[1].text
    assert len(read(DATA / "node_exporter.om", keep=1).samples) == 1


def test_text_format_has_millisecond_timestamps_and_special_values():
    batch = read(DATA / "node_exporter.prom", metrics_time=COLLECTED_AT)
    df = batch.frames["metrics"]
    load = rows(df, "node_load1", instance="10.0.0.13:9100")
    assert load.index.tolist() == [T0] and load["value"].tolist() == [1.25]
    temps = rows(df, "node_hwmon_temp_celsius").sort_values("labels")["value"].tolist()
    assert math.isnan(temps[0]) and temps[1:] == [math.inf, -math.inf]
    assert [(m.line, m.field) for m in batch.samples] == [(14, "timestamp")]  # 1629676815.5
    assert (batch.lines, batch.malformed) == (7, 1)


def test_sample_without_timestamp_is_stamped_only_at_a_time_the_user_gives():
    # Issue 7 item 7: such samples were stamped at the window's end without a word
    df = read(DATA / "node_exporter.prom", metrics_time=COLLECTED_AT).frames["metrics"]
    bare = df[(df["name"] == "node_load1") & (df["labels"] == "{}")]
    assert bare.index.tolist() == [COLLECTED_AT] and bare["value"].tolist() == [0.75]
    batch = read(DATA / "node_exporter.prom", collected_at=COLLECTED_AT)  # not a user's time
    (refused,) = [m for m in batch.samples if m.line == 4]
    assert refused.field == "timestamp" and "metrics.time" in refused.message


def test_openmetrics_seconds_truncate_to_milliseconds_like_promtool(tmp_path):
    path = write(tmp_path, "x 1 1.001\nx 2 1629676800.0019\n# EOF\n")
    df = read(path).frames["metrics"]
    # promtool stores int64(seconds * 1000): 1.001 * 1000 = 1000.999… -> 1000 ms.
    assert df.index.tolist() == [pd.Timestamp(1000, unit="ms", tz="UTC"),
                                 pd.Timestamp(1629676800001, unit="ms", tz="UTC")]


@pytest.mark.parametrize(("line", "field"), [
    ("9x 1 1629676800000", "name"),
    ('x{a="1} 1 1629676800000', "labels"),
    ("x{a=1} 1 1629676800000", "labels"),
    ('x{a="1",a="2"} 1 1629676800000', "labels"),
    ("x 1_000 1629676800000", "value"),
    ("x", "value"),
    ("x 1 17e2", "timestamp"),
    ("x 1 1629676800000 2000", "line"),
])
def test_each_kind_of_bad_line_names_its_field(tmp_path, line, field):
    batch = read(write(tmp_path, f"# TYPE x gauge\n{line}\nx 5 1629676800000\n"))
    assert [(m.line, m.field) for m in batch.samples] == [(2, field)]
    assert batch.frames["metrics"]["value"].tolist() == [5.0]  # the good line still counts


def test_text_format_tolerates_spaces_and_trailing_comma(tmp_path):
    df = read(write(tmp_path, 'x{ a = "1" , b="2",} 3 1629676800000\n')).frames["metrics"]
    assert df["labels"].tolist() == ['{"a":"1","b":"2"}']


def test_samples_after_eof_and_invalid_utf8_are_malformed(tmp_path):
    path = tmp_path / "m.om"
    path.write_bytes(b'x{a="\xff"} 1 1\n# EOF\nx 2 2\n# EOF\n')
    batch = read(path)
    assert [(m.line, m.field) for m in batch.samples] == [(1, "encoding"), (3, "eof")]
    assert batch.frames["metrics"].empty


def test_rereading_gives_the_same_row_ids():
    first = read(DATA / "coredns.om").frames["metrics"]["row_id"].tolist()
    assert first == read(DATA / "coredns.om").frames["metrics"]["row_id"].tolist()
    assert len(set(first)) == len(first)


def test_openmetrics_without_eof_is_reported_not_moved_to_1970(tmp_path):
    f = tmp_path / "noeof.om"
    f.write_text("# TYPE node_load1 gauge\nnode_load1{instance=\"n1:9100\"} 12.5 1629676800\n")
    b = read_metrics_file(f, ParseContext(str(f), UTC, {}))
    assert b.malformed == 1
    assert "# EOF" in b.samples[0].message and b.samples[0].field == "timestamp"


def test_a_file_read_in_chunks_gives_the_rows_and_counts_of_a_whole_read(monkeypatch):
    """The stream ``rca collect`` reads: every ``CHUNK_SAMPLES`` samples a frame, the
    counts complete once it is consumed, the rows those of one read."""
    from collectors import metrics_file

    whole = read(DATA / "node_exporter.om")
    monkeypatch.setattr(metrics_file, "CHUNK_SAMPLES", 3)
    ctx = ParseContext(file="node_exporter.om", zone=UTC, settings={})
    batch, chunks = metrics_file.read_metrics_file_chunks(DATA / "node_exporter.om", ctx)
    frames = [frames["metrics"] for frames in chunks]
    assert len(whole.frames["metrics"]) > 6
    assert [len(f) for f in frames[:-1]] == [3] * (len(frames) - 1) and 0 < len(frames[-1]) <= 3
    pd.testing.assert_frame_equal(pd.concat(frames), whole.frames["metrics"])
    assert (batch.lines, batch.kept, batch.malformed) == (whole.lines, whole.kept,
                                                          whole.malformed)


def test_a_file_with_no_sample_reads_as_an_empty_table(tmp_path):
    batch = read(write(tmp_path, "# HELP x nothing\n# TYPE x gauge\n"))
    assert batch.frames["metrics"].empty and batch.lines == 0
    assert list(batch.frames["metrics"].columns) == list(record.empty("metrics").columns)
