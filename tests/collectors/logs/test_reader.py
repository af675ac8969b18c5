"""read_log / detect: stable row ids, duplicates, gzip, accounting, format errors."""

import gzip
import shutil
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from collectors.base import ParseContext
from collectors.logs import FORMATS, blocks, detect, read_log, reader
from rca import record
from rca.timeutil import get_zone

DATA = Path(__file__).parents[2] / "data" / "logs"
INGRESS = DATA / "ingress-nginx.log"


def ctx(path: Path) -> ParseContext:
    return ParseContext(str(path), get_zone("Asia/Shanghai"))


@pytest.mark.parametrize(
    "name, fmt",
    [
        ("ingress-nginx.log", "ingress-nginx"),
        ("nginx-combined.log", "nginx-combined"),
        ("requests.jsonl", "jsonl"),
        ("coredns.log", "coredns"),
        ("coredns-cri.log", "coredns"),
        ("rgw.log", "rgw"),
    ],
)
def test_detect_picks_the_format_of_each_sample(name, fmt):
    assert detect(DATA / name) == fmt


def test_registry_names():
    assert list(FORMATS) == ["ingress-nginx", "nginx-combined", "jsonl", "coredns", "dnsmasq",
                             "rgw"]
    assert all(module.NAME == name for name, module in FORMATS.items())


def test_detect_unknown_format_names_file_and_flag(tmp_path):
    path = tmp_path / "app.log"
    path.write_text("Starting server on :8080\nready\n")
    with pytest.raises(ValueError, match=r"app\.log.*--log-format"):
        detect(path)
    with pytest.raises(ValueError, match="--log-format"):
        read_log(path, "auto", ctx(path))


def test_unknown_format_name(tmp_path):
    with pytest.raises(ValueError, match="unknown log format 'apache'.*ingress-nginx"):
        read_log(INGRESS, "apache", ctx(INGRESS))


def test_auto_equals_explicit():
    auto = read_log(INGRESS, "auto", ctx(INGRESS))
    explicit = read_log(INGRESS, "ingress-nginx", ctx(INGRESS))
    pd.testing.assert_frame_equal(auto.frames["requests"], explicit.frames["requests"])
    assert auto.source == str(INGRESS)


def test_rereading_gives_identical_unique_row_ids():
    first = read_log(INGRESS, "ingress-nginx", ctx(INGRESS)).frames["requests"]
    second = read_log(INGRESS, "ingress-nginx", ctx(INGRESS)).frames["requests"]
    assert list(first["row_id"]) == list(second["row_id"])
    assert first["row_id"].is_unique
    line_7 = INGRESS.read_text().splitlines()[6].strip()
    row = first[first["source"] == "ingress-nginx.log:7"]
    stream = reader.stream_name(INGRESS)
    assert row["row_id"].iloc[0] == record.row_id(stream, line_7, 0, 0)


def test_identical_lines_stay_two_rows(tmp_path):
    line = INGRESS.read_text().splitlines()[6]
    path = tmp_path / "dup.log"
    path.write_text(f"{line}\n{line}\n")
    df = read_log(path, "ingress-nginx", ctx(path)).frames["requests"]
    assert list(df["source"]) == ["dup.log:1", "dup.log:2"]
    assert df["row_id"].is_unique
    assert df.drop(columns=["row_id", "source"]).duplicated().iloc[1]


def test_gzip_by_content_reads_like_plain(tmp_path):
    plain = read_log(INGRESS, "ingress-nginx", ctx(INGRESS))
    for name in ("ingress-nginx.log.gz", "ingress-nginx.log.2"):
        path = tmp_path / name
        with open(INGRESS, "rb") as src, gzip.open(path, "wb") as dst:
            shutil.copyfileobj(src, dst)
        packed = read_log(path, "auto", ctx(path))
        assert (packed.lines, packed.malformed) == (plain.lines, plain.malformed)
        assert [(m.line, m.field) for m in packed.samples] == [
            (m.line, m.field) for m in plain.samples
        ]
        cols = ["side", "station", "service", "latency_s", "status", "bytes", "request_id"]
        pd.testing.assert_frame_equal(
            packed.frames["requests"][cols], plain.frames["requests"][cols]
        )
        assert packed.frames["requests"]["source"].iloc[0] == f"{name}:1"


def test_malformed_lines_are_counted_sampled_and_truncated(tmp_path):
    good = INGRESS.read_text().splitlines()[0]
    junk = "x" * 500
    path = tmp_path / "mixed.log"
    path.write_text(f"{junk}\n\n{good}\n   \n{junk}\n{junk}\n{good}\n")
    batch = read_log(path, "ingress-nginx", ctx(path), keep=2)
    assert (batch.lines, batch.malformed, batch.rows()) == (5, 3, {"requests": 2})
    assert [(m.file, m.line, m.field) for m in batch.samples] == [
        (str(path), 1, "remote_user"),
        (str(path), 5, "remote_user"),
    ]
    assert batch.samples[0].text == "x" * 200
    assert list(batch.frames["requests"]["source"]) == ["mixed.log:3", "mixed.log:7"]


def test_invalid_utf8_is_replaced_not_fatal(tmp_path):
    line = INGRESS.read_bytes().splitlines()[0].replace(b"python-requests", b"caf\xe9")
    path = tmp_path / "latin1.log"
    path.write_bytes(line + b"\n")
    df = read_log(path, "ingress-nginx", ctx(path)).frames["requests"]
    assert len(df) == 1


def test_events_and_requests_get_their_sources():
    path = DATA / "rgw.log"
    batch = read_log(path, "rgw", ctx(path))
    assert batch.rows() == {"requests": 6, "events": 4}
    assert set(batch.frames["events"]["source"]) == {"log"}
    assert batch.frames["requests"]["source"].str.startswith("rgw.log:").all()
    for df in batch.frames.values():
        assert str(df.index.tz) == "UTC"


def test_several_rows_from_one_line_get_distinct_ids(tmp_path, monkeypatch):
    def parse(line, ctx):
        time = pd.Timestamp("2021-08-23T03:03:05Z")
        return [("requests", {"time": time, "station": s}) for s in line.split()]

    monkeypatch.setitem(FORMATS, "pairs", SimpleNamespace(NAME="pairs", parse=parse))
    path = tmp_path / "pairs.log"
    path.write_text("a b\na b\n")
    df = read_log(path, "pairs", ctx(path)).frames["requests"]
    assert list(df["station"]) == ["a", "b", "a", "b"]
    assert list(df["source"]) == ["pairs.log:1", "pairs.log:1", "pairs.log:2", "pairs.log:2"]
    assert list(df["row_id"]) == [
        record.row_id(reader.stream_name(path), "a b", occurrence, index)
        for occurrence in (0, 1)
        for index in (0, 1)
    ]


def test_empty_file_gives_empty_batch(tmp_path):
    path = tmp_path / "empty.log"
    path.write_text("\n\n")
    batch = read_log(path, "ingress-nginx", ctx(path))
    assert (batch.lines, batch.malformed, batch.frames) == (0, 0, {})


def test_chunked_frames_equal_one_frame(monkeypatch):
    whole = read_log(INGRESS, "ingress-nginx", ctx(INGRESS)).frames["requests"]
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 700)  # a few lines a block
    monkeypatch.setattr(blocks, "READ_BYTES", 256)  # small reads: many blocks
    chunked = read_log(INGRESS, "ingress-nginx", ctx(INGRESS)).frames["requests"]
    assert len(whole) == 26
    pd.testing.assert_frame_equal(chunked, whole)


def test_long_files_report_progress_in_lines(monkeypatch):
    monkeypatch.setattr(blocks, "BLOCK_BYTES", 1000)
    monkeypatch.setattr(blocks, "READ_BYTES", 256)  # small reads: many blocks
    path = DATA / "ingress-nginx.log"
    c = ctx(path)
    seen: list[int] = []
    c.settings["on_lines"] = seen.append
    batch = read_log(path, "ingress-nginx", c)
    assert len(seen) >= 3
    assert seen == sorted(seen) and seen[-1] <= batch.lines


@pytest.mark.parametrize("name", ["access.log", "access.log.1", "access.log.2.gz",
                                  "access.log-20210823", "access.log-20210823.gz"])
def test_rotated_names_are_one_stream(name):
    assert reader.stream_name(Path("/var/log/nginx") / name) == "log/nginx/access.log"


def test_same_name_in_two_pod_folders_are_two_streams():
    a = reader.stream_name(Path("/var/log/pods/ns_a_1/app/0.log"))
    b = reader.stream_name(Path("/var/log/pods/ns_b_2/app/0.log"))
    assert a != b  # the container folder is the same, the pod folder is not
    a = reader.stream_name(Path("/logs/node1/app.log"))
    b = reader.stream_name(Path("/logs/node2/app.log"))
    assert a != b


def test_rotated_file_recollected_gives_same_row_ids(tmp_path):
    (tmp_path / "access.log").write_bytes(INGRESS.read_bytes())
    first = read_log(tmp_path / "access.log", "ingress-nginx", ctx(INGRESS))
    (tmp_path / "access.log").rename(tmp_path / "access.log.1")
    again = read_log(tmp_path / "access.log.1", "ingress-nginx", ctx(INGRESS))
    assert list(first.frames["requests"]["row_id"]) == list(again.frames["requests"]["row_id"])
