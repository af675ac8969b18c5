"""Terminal output: tables for people, JSON for programs, progress on stderr.

Why stderr for progress and banners: ``rca analyze -o json | jq`` must get clean JSON.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import tzinfo

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from rca.timeutil import to_display

__all__ = ["collect_summary", "config_table", "dump_json", "incidents_table", "progress"]

_out = Console(highlight=False, soft_wrap=True)
if not _out.is_terminal:  # piped or captured: don't squeeze tables into 80 columns
    _out = Console(highlight=False, soft_wrap=True, width=160)
_err = Console(stderr=True, highlight=False)


def dump_json(data) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


def config_table(rows) -> None:
    table = Table("key", "value", "from", title="configuration in effect")
    for key, value, origin in rows:
        shown = json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else str(value)
        style = "bold" if origin != "default" else ""
        table.add_row(key, shown, origin, style=style)
    _out.print(table)


@contextmanager
def progress(total: int) -> Iterator:
    """A bar over the sources; ``tick(source, batch)`` advances it and names the file."""
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), console=_err, transient=True)
    with bar:
        task = bar.add_task("collecting", total=total)

        def tick(source, batch, done: bool = True) -> None:
            bar.update(task, advance=int(done), description=_label(source, batch))
            if batch is not None and batch.malformed:
                where = escape(batch.source)
                _err.print(f"[yellow]{where}: {batch.malformed} malformed line(s)[/]")
                for sample in batch.samples:
                    _err.print(f"  {sample}", markup=False)

        def lines(source, n: int) -> None:
            bar.update(task, description=f"{_label(source)} ({n:,} lines)")

        tick.lines = lines
        yield tick


def _label(source, batch=None) -> str:
    """What the bar shows: ``logs: x.log`` for a file, the batch's name for a live source."""
    if hasattr(source, "path"):
        return f"{source.kind}: {source.path.name}"
    return batch.source if batch is not None else source.name


def collect_summary(summary, zone: tzinfo, fmt: str) -> None:
    span = ([to_display(summary.first, zone), to_display(summary.last, zone)]
            if summary.first is not None else None)
    data = {
        "window": {"since": to_display(summary.since, zone),
                   "until": to_display(summary.until, zone)},
        "covered": span, "rows": summary.read, "new_rows": summary.new,
        "outside_window": summary.outside_window, "malformed": summary.malformed,
        "files": summary.files,
        "gaps": [{"source": g.source, "what": g.what, "reason": g.reason,
                  "since": to_display(g.since, zone) if g.since is not None else None,
                  "until": to_display(g.until, zone) if g.until is not None else None}
                 for g in summary.gaps],
    }
    if fmt == "json":
        dump_json(data)
        return
    table = Table("file", "lines", "rows", "malformed", title="collected")
    for f in summary.files:
        rows = ", ".join(f"{t}={n}" for t, n in f["rows"].items()) or "-"
        table.add_row(f["file"], str(f["lines"]), rows, str(f["malformed"]))
    _out.print(table)
    totals = ", ".join(f"{t}: {n} ({summary.new.get(t, 0)} new)" for t, n in summary.read.items())
    _out.print(f"rows: {totals or 'none'}")
    _out.print(f"covered: {span[0]} → {span[1]}" if span else "covered: nothing in the window")
    if summary.outside_window:
        _out.print(f"outside the window (not stored): {summary.outside_window} rows")
    _out.print(f"malformed lines: {summary.malformed}")
    for g in data["gaps"]:
        span = f" ({g['since']} → {g['until']})" if g["since"] else ""
        text = escape(f"{g['source']}: {g['what']}: {g['reason']}{span}")
        _out.print(f"[yellow]gap:[/] {text}",
                   markup=True, highlight=False)


def incidents_table(result: dict) -> None:
    """One line per incident, narrow enough for an 80-column terminal or a pipe."""
    table = Table("incident", "local time", "failed", "services", "top cause (score)",
                  title=f"{len(result['incidents'])} incident(s)")
    for inc in result["incidents"]:
        causes = inc["causes"]
        top = (f"{causes[0]['id']} ({causes[0]['score']:.2f})" if causes else "-")
        when = f"{inc['start'][:10]} {inc['start'][11:19]}–{inc['end'][11:]}"
        services = inc["scope"]["services"]
        table.add_row(inc["id"], when, str(inc["symptoms"]["failed_requests"]),
                      f"{len(services)}: {', '.join(services)}", top)
    table.columns[0].no_wrap = True
    table.columns[1].no_wrap = True
    _out.print(table)
    for gap in result["gaps"]:
        _out.print(f"[yellow]gap:[/] {gap['message']}", markup=True)
