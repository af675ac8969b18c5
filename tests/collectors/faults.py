"""The end of every live-source fault case: a named gap that ``rca analyze`` and the report show.

Why through the command line: a gap that the collector returns but the terminal or the
HTML page drops is no help at 3 a.m. Each fault case runs ``rca collect`` (in-process,
the real parser and store) against the faulty server, then ``rca analyze`` and ``rca
report`` on the store, and ``assert_shown`` finds the gap's source, what, window and
reason in the collect summary, the analyze table and the HTML page.
"""

from __future__ import annotations

import html
import io
import json
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from rca.cli import main

__all__ = ["Shown", "assert_shown", "collect_and_show"]


@dataclass
class Shown:
    gaps: list[dict]  # the collect summary's (``-o json``), times in UTC
    analyze: str  # ``rca analyze``'s terminal table
    report: str  # the HTML report


def _run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(argv)
    return code, out.getvalue()


def collect_and_show(tmp: Path, since: pd.Timestamp, until: pd.Timestamp, args: list[str],
                     config: str = "", expect_exit: int = 0) -> Shown:
    """``rca collect`` with ``args`` (plus one log line, so the store exists whatever the
    live source gave), then ``rca analyze`` and ``rca report`` of the window."""
    store, seed, cfg = tmp / "store", tmp / "seed.log", tmp / "rca.yaml"
    seed.write_text(f'10.0.0.1 - - [{since.strftime("%d/%b/%Y:%H:%M:%S +0000")}] '
                    '"GET / HTTP/1.1" 200 1 "-" "curl/8.0"\n')
    cfg.write_text(config or "{}\n")
    common = ["--store", str(store), "--since", since.isoformat(), "--until",
              until.isoformat(), "--tz", "UTC", "--config", str(cfg)]
    code, out = _run(["collect", *common, "--logs", str(seed), *args, "-o", "json"])
    assert code == expect_exit, out
    gaps = json.loads(out)["gaps"]
    code, table = _run(["analyze", *common])
    assert code == 0, table
    code, out = _run(["report", *common, "-o", str(tmp / "report")])
    assert code == 0, out
    page = next((tmp / "report").glob("*.html")).read_text()
    return Shown(gaps, table, page)


def assert_shown(shown: Shown, source: str, what: str, reason: str,
                 since: pd.Timestamp, until: pd.Timestamp) -> dict:
    """The one gap of ``source`` about ``what``: its reason starts with ``reason``, its
    window is [since, until], and all four are in the analyze table and the report."""
    mine = [g for g in shown.gaps if g["source"] == source and g["what"] == what]
    assert len(mine) == 1, shown.gaps
    gap = mine[0]
    assert gap["reason"].startswith(reason), gap
    assert (pd.Timestamp(gap["since"]), pd.Timestamp(gap["until"])) == (since, until), gap
    window = f"[{since.isoformat()} → {until.isoformat()}]"
    line = f"not collected: {source}: {what} {window}: {gap['reason']}"
    assert line in shown.analyze, shown.analyze
    print(line)  # with -s: the fault matrix of docs/live-sources.md
    page = html.unescape(" ".join(shown.report.split()))
    for text in (source, what, gap["reason"], _span(since, until)):
        assert text in page, text
    return gap


def _span(since: pd.Timestamp, until: pd.Timestamp) -> str:
    """The window as the report writes it in UTC (``2021-08-23 03:00:00 – 04:00:00``)."""
    a, b = since.tz_convert("UTC"), until.tz_convert("UTC")
    if a.date() == b.date():
        return f"{a:%Y-%m-%d %H:%M:%S} – {b:%H:%M:%S}"
    return f"{a:%Y-%m-%d %H:%M:%S} +00:00 – {b:%Y-%m-%d %H:%M:%S}"
