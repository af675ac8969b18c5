"""A log rotated or truncated while ``rca collect`` reads it: no crash, nothing doubled,
what was read is kept, a truncation is a named gap.

Why a writer thread watching the reader's file position: logrotate runs when it runs, and
``copytruncate`` (the default for apps that keep their log open) empties the file under
any reader. The thread acts once the real collector has read the first megabyte of the
file (its open handle's position in ``/proc/self/fdinfo``), so the fault lands mid-read.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from rca.store import Store
from tests.collectors.faults import assert_shown, collect_and_show

T0 = pd.Timestamp("2021-08-23T00:00:00Z")
SINCE, UNTIL = T0 - pd.Timedelta(hours=1), T0 + pd.Timedelta(days=2)
LINES = 100_000  # ~10 MB: the reader holds 4 MB blocks, so the fault lands mid-file
NEW = 100  # lines the application writes after the rotation

pytestmark = pytest.mark.skipif(not Path("/proc/self/fdinfo").is_dir(),
                                reason="needs Linux /proc to see the reader's position")


def _lines(first: int, n: int) -> str:
    """nginx combined lines, one a second, each with its own path (so each is one row)."""
    return "".join(
        f'10.0.{i % 200}.{i % 7} - - '
        f'[{(T0 + pd.Timedelta(seconds=i)).strftime("%d/%b/%Y:%H:%M:%S +0000")}] '
        f'"GET /v1/item/{i} HTTP/1.1" 200 {100 + i % 900} "-" "client/1.0"\n'
        for i in range(first, first + n))


def _position(path: Path) -> int:
    """The largest offset of this process's open handles on ``path`` (0 if none)."""
    best = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") != str(path):
                continue
            info = Path(f"/proc/self/fdinfo/{fd}").read_text()
        except OSError:
            continue
        best = max(best, int(info.split("pos:", 1)[1].split()[0]))
    return best


class Rotator(threading.Thread):
    """Waits until the collector has read ``at`` bytes of ``path``, then rotates it the
    way logrotate does (``copytruncate`` or ``create``) and writes new lines."""

    def __init__(self, path: Path, how: str, at: int = 1 << 20) -> None:
        super().__init__(daemon=True)
        self.path, self.how, self.at = path.resolve(), how, at
        self.done_at: int | None = None

    def run(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            pos = _position(self.path)
            if pos >= self.at:
                rotated = self.path.with_name(self.path.name + ".1")
                if self.how == "copytruncate":
                    shutil.copyfile(self.path, rotated)
                    os.truncate(self.path, 0)
                else:  # create: rename away, start a new file
                    os.rename(self.path, rotated)
                with open(self.path, "a") as fh:
                    fh.write(_lines(LINES, NEW))
                self.done_at = pos
                return
            time.sleep(0.0005)


def _seconds(store: Path) -> list[int]:
    """Seconds after T0 of the stored rows of the test's log (one line a second)."""
    rows = Store(store).load("requests")
    return sorted(int(s) for s in (rows.index[rows.index >= T0] - T0).total_seconds())


def _collect_while(how: str, tmp_path: Path):
    log = tmp_path / "access.log"
    log.write_text(_lines(0, LINES))
    rotator = Rotator(log, how)
    rotator.start()
    shown = collect_and_show(tmp_path, SINCE, UNTIL, ["--logs", str(log)])
    rotator.join(timeout=10)
    rotated = log.with_name("access.log.1")
    assert rotator.done_at is not None and rotator.done_at < rotated.stat().st_size  # mid-read
    return log, shown


def test_truncated_while_read_keeps_what_was_read_and_names_the_gap(tmp_path):
    log, shown = _collect_while("copytruncate", tmp_path)
    got = _seconds(tmp_path / "store")
    # a prefix of the file, each line once: what was read is kept, nothing doubled
    assert 0 < len(got) < LINES and got == list(range(len(got)))
    last_read = T0 + pd.Timedelta(seconds=len(got) - 1)
    gap = assert_shown(shown, "logs", str(log), "truncated while read", last_read, UNTIL)
    read, left = (int(x.replace(",", "")) for x in
                  re.findall(r"([\d,]+) (?:bytes read|left)", gap["reason"]))
    assert left < read and read >= len(got) * 60  # ~70 bytes a line at least
    # the next collection reads the rotated copy and the new file: every line, once
    collect_and_show(tmp_path, SINCE, UNTIL, ["--logs", str(log) + "*"])
    assert _seconds(tmp_path / "store") == list(range(LINES + NEW))


def test_renamed_while_read_is_read_to_its_end_once(tmp_path):
    log, shown = _collect_while("create", tmp_path)
    # the open handle reads the renamed file to its end
    assert _seconds(tmp_path / "store") == list(range(LINES))
    assert not [g for g in shown.gaps if g["source"] == "logs"]
    collect_and_show(tmp_path, SINCE, UNTIL, ["--logs", str(log) + "*"])
    # access.log.1 is the same stream: its rows are the ones already stored
    assert _seconds(tmp_path / "store") == list(range(LINES + NEW))
