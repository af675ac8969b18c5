"""collectors.logs.partials: CRI fragments are joined into the line the program printed,
per stream, the same way by the block and the per-line reader, and a file that ends
inside a line still has that line counted and read."""

import json
from pathlib import Path

import pandas as pd
import pytest

from collectors.base import MAX_LINE, ParseContext
from collectors.logs import blocks, reader
from collectors.logs.partials import PARTIAL, Joined, Partials
from rca.timeutil import get_zone

#: containerd's default max_container_log_line_size: a longer line is cut here.
CUT = 16 * 1024
T0 = "2021-08-23T03:03:05.123456789Z"
#: An ingress-nginx access line whose request carries a long query (an image as base64):
#: longer than CUT, so containerd writes it as P fragments and a closing F.
LONG = ('10.20.1.31 - - [23/Aug/2021:11:03:05 +0800] "GET /predict?img=' + "iVBORw0KGgo" * 3000
        + ' HTTP/1.1" 504 0 "-" "python-requests/2.25.1" 6291754 15.001 '
        '[inference-neishi-8080] [] 10.244.1.17:8080 0 15.000 504 0e5a2c7d1b')
SHORT = ('10.20.1.32 - - [23/Aug/2021:11:03:06 +0800] "POST /predict HTTP/1.1" 200 498 "-" '
         '"python-requests/2.25.1" 6291190 0.421 [inference-waishi-8080] [] 10.244.2.23:8080 '
         '498 0.419 200 d23f0824128b2f330c5c7fd0a6a3a450')
#: what the controller prints on stderr meanwhile (a klog line)
KLOG = 'I0823 03:03:05.200000       7 controller.go:165] "Configuration changes detected"'


def cri(line: str, stream: str = "stdout", at: str = T0) -> list[str]:
    """``line`` as containerd writes it: fragments of CUT characters, the last one ``F``."""
    pieces = [line[i:i + CUT] for i in range(0, len(line), CUT)] or [""]
    return [f"{at} {stream} {'P' if i < len(pieces) - 1 else 'F'} {piece}"
            for i, piece in enumerate(pieces)]


def docker(line: str, stream: str = "stdout", at: str = T0) -> list[str]:
    """``line`` as Docker's json-file driver writes it: entries of CUT characters, only
    the last one's ``log`` ending in ``\\n`` (moby#34855; docker/for-linux#1321)."""
    pieces = [line[i:i + CUT] for i in range(0, len(line), CUT)] or [""]
    pieces[-1] += "\n"
    return [json.dumps({"log": piece, "stream": stream, "time": at}, separators=(",", ":"))
            for piece in pieces]


def ctx(path: Path) -> ParseContext:
    return ParseContext(str(path), get_zone("UTC"), {"jsonl_fields": {}})


def both(path: Path, fmt: str = "ingress-nginx"):
    """The block reader's batch, checked equal to the per-line reader's."""
    fast = reader.read_log(path, fmt, ctx(path), keep=20)
    slow = reader.read_log_per_line(path, fmt, ctx(path), keep=20)
    assert (fast.lines, fast.kept, fast.malformed, fast.skipped) == \
        (slow.lines, slow.kept, slow.malformed, slow.skipped)
    assert fast.samples == slow.samples
    assert fast.frames.keys() == slow.frames.keys()
    for table, frame in slow.frames.items():
        pd.testing.assert_frame_equal(fast.frames[table], frame)
    assert fast.unaccounted() == 0
    return fast


@pytest.fixture(params=[4000, 1 << 20], ids=["small-blocks", "one-block"])
def block_bytes(request, monkeypatch):
    """Small blocks put the fragments of one line in different blocks."""
    monkeypatch.setattr(blocks, "BLOCK_BYTES", request.param)
    monkeypatch.setattr(blocks, "READ_BYTES", 1024)


@pytest.mark.parametrize("wrap, name", [("cri", "0.log"), ("docker", "abc-json.log")])
def test_fragments_are_joined_per_stream_around_an_interleaved_stderr_line(tmp_path,
                                                                          block_bytes,
                                                                          wrap, name):
    """containerd's ``P`` fragments, and Docker json-file entries whose ``log`` does not
    end in ``\\n``: one line per stream, whatever the other stream prints between."""
    wrapped = {"cri": cri, "docker": docker}[wrap]
    frags = wrapped(LONG)
    assert len(frags) == 3 and frags[0] != wrapped(LONG[:CUT])[0]  # a fragment, not whole
    # the controller's stderr line falls between two stdout fragments
    lines = [*wrapped(SHORT), frags[0], *wrapped(KLOG, "stderr"), *frags[1:], *wrapped(SHORT)]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    batch = both(path)
    frame = batch.frames["requests"]
    assert len(frame) == 3 and frame["row_id"].nunique() == 3
    joined = frame.iloc[1]
    assert (joined["status"], joined["latency_s"], joined["service"]) == \
        ("504", 15.001, "inference-neishi")
    assert joined["source"] == f"{name}:5"  # counted at the fragment that ends it
    assert batch.skipped[PARTIAL] == 2
    assert batch.lines == len(lines) == 6 and batch.malformed == 0


def test_a_fragment_ending_in_a_space_keeps_it(tmp_path):
    """The cut may fall just after a space: stripping the fragment would glue fields."""
    head = SHORT[:SHORT.index(" 200 ") + 1]
    assert head.endswith(" ")
    path = tmp_path / "0.log"
    path.write_text(f"{T0} stdout P {head}\n{T0} stdout F {SHORT[len(head):]}\n")
    frame = both(path).frames["requests"]
    assert frame["status"].tolist() == ["200"] and frame["bytes"].tolist() == [498.0]


def test_a_file_ending_inside_a_line_reads_it_at_its_last_fragment(tmp_path, block_bytes):
    """The container was killed mid-write: the fragments are still a line, counted."""
    frags = cri(LONG)
    cut_short = [*frags[:-1]]  # no closing F
    path = tmp_path / "0.log"
    path.write_text("\n".join([*cri(SHORT), *cut_short]) + "\n")
    batch = both(path)
    assert batch.lines == 3 and batch.skipped[PARTIAL] == 1
    # the two fragments hold only part of the request: the line is malformed, not lost
    assert batch.malformed == 1 and batch.samples[0].line == 3
    assert len(batch.frames["requests"]) == 1
    # a line whose last fragment is the only one, cut where the line really ends
    path.write_text("\n".join([*cri(SHORT), f"{T0} stdout P {SHORT}"]) + "\n")
    batch = both(path)
    assert (batch.lines, len(batch.frames["requests"]), batch.malformed) == (2, 2, 0)
    assert PARTIAL not in batch.skipped


def test_joined_line_never_shares_an_id_with_the_same_text_printed_whole(tmp_path):
    head, tail = SHORT[:50], SHORT[50:]
    path = tmp_path / "0.log"
    path.write_text(f"{T0} stdout F {SHORT}\n{T0} stdout P {head}\n{T0} stdout F {tail}\n"
                    f"{T0} stdout P {head}\n{T0} stdout F {tail}\n")
    frame = both(path).frames["requests"]
    assert len(frame) == 3 and frame["row_id"].nunique() == 3


def test_a_joined_line_longer_than_max_line_is_reported_too_long(tmp_path, block_bytes):
    path = tmp_path / "0.log"
    huge = LONG + "x" * MAX_LINE
    path.write_text("\n".join([*cri(huge), *cri(SHORT)]) + "\n")
    batch = both(path)
    assert batch.malformed == 1 and "longer than" in batch.samples[0].message
    assert len(batch.frames["requests"]) == 1


def test_coredns_reads_the_first_fragments_time(tmp_path):
    """Formats that read the runtime's time get the time the line began."""
    line = ('[INFO] 10.244.1.17:41234 - 5113 "AAAA IN neishi.inference.svc.cluster.local. '
            'udp 50 false 512" NOERROR qr,aa,rd 143 0.000166s')
    path = tmp_path / "0.log"
    path.write_text(f"2021-08-23T11:03:01.1+08:00 stdout P {line[:40]}\n"
                    f"2021-08-23T11:03:01.2+08:00 stdout F {line[40:]}\n")
    frame = both(path, "coredns").frames["dns"]
    assert frame.index.tolist() == [pd.Timestamp("2021-08-23T03:03:01.1Z")]


def test_feed_passes_ordinary_lines_through_untouched():
    partials = Partials("pod/c/0.log")
    assert partials.feed(1, SHORT, lambda: SHORT) == SHORT
    full = f"{T0} stdout F {SHORT}"
    assert partials.feed(2, full, lambda: full) == full
    assert partials.feed(3, f"{T0} stdout P:x a", lambda: f"{T0} stdout P:x a ") is None
    joined = partials.feed(4, f"{T0} stdout F b", lambda: f"{T0} stdout F b")
    assert isinstance(joined, Joined) and joined.text == f"{T0} stdout F a b"
    assert partials.rest() == []


def test_a_docker_file_ending_inside_a_line_reads_it_at_its_last_entry(tmp_path, block_bytes):
    path = tmp_path / "abc-json.log"
    path.write_text("\n".join([*docker(SHORT), *docker(LONG)[:-1]]) + "\n")
    batch = both(path)
    assert batch.lines == 3 and batch.skipped[PARTIAL] == 1
    assert batch.malformed == 1 and batch.samples[0].line == 3  # part of a request
    # a program's last output without a newline: one entry, read as the line it is
    last = json.dumps({"log": SHORT, "stream": "stdout", "time": T0}, separators=(",", ":"))
    path.write_text("\n".join([*docker(SHORT), last]) + "\n")
    batch = both(path)
    assert (batch.lines, len(batch.frames["requests"]), batch.malformed) == (2, 2, 0)


def test_feed_reads_a_docker_entrys_end_off_its_escapes():
    """``\\\\n`` at the end of ``log`` is a backslash and an ``n``: still a fragment; a
    broken entry is left to the per-line parser."""
    partials = Partials("c/abc-json.log")
    whole = json.dumps({"log": "a b\n", "stream": "stdout", "time": T0})
    assert partials.feed(1, whole, lambda: whole) == whole
    head = json.dumps({"log": "a\\n", "stream": "stdout", "time": T0})  # no newline
    assert partials.feed(2, head, lambda: head) is None
    tail = json.dumps({"log": " b\n", "stream": "stdout", "time": T0})
    joined = partials.feed(3, tail, lambda: tail)
    assert isinstance(joined, Joined) and joined.text == f"{T0} stdout F a\\n b"
    assert joined.number == 3 and joined.identity[1] == f"{head}\n{tail}"
    broken = '{"log":"a'
    assert partials.feed(4, broken, lambda: broken) == broken
    assert partials.rest() == []
