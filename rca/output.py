"""Terminal output: tables for people, JSON for programs, progress on stderr.

Why stderr for progress and banners: ``rca analyze -o json | jq`` must get clean JSON.

Why every value from data goes through ``_text``: Rich reads ``[...]`` as markup, so a
service called ``a[/]b`` crashed ``rca analyze`` and a file ``x[red]y.jsonl`` showed as
``xy.jsonl``; escape sequences in a log line would drive the terminal. A ``Text`` is never
parsed as markup, control characters are shown as ``\\x1b``, and credentials are redacted,
so nothing a cluster writes can change what the terminal shows.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import tzinfo

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from rca.redact import redact_obj, redact_text
from rca.timeutil import to_display

__all__ = ["collect_summary", "compact_summary", "config_table", "dump_json", "error",
           "eval_table", "gap_dict", "incidents_table", "progress", "steps", "store_notes"]

_out = Console(highlight=False, soft_wrap=True)
if not _out.is_terminal:  # piped or captured: don't squeeze tables into 80 columns
    _out = Console(highlight=False, soft_wrap=True, width=160)
_err = Console(stderr=True, highlight=False)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _text(value, style: str = "") -> Text:
    """A value from data, safe to print: no markup, no control characters, no secrets."""
    shown = _CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}", redact_text(str(value)))
    return Text(shown, style=style)


def error(message: str) -> None:
    """One ``rca: error: …`` line on stderr, the same shape as the usage errors."""
    _err.print(Text("rca: error: ").append(_text(message)), soft_wrap=True)


def dump_json(data) -> None:
    json.dump(redact_obj(data), sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


def config_table(rows) -> None:
    table = Table("key", "value", "from", title="configuration in effect")
    for key, value, origin in rows:
        shown = json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else str(value)
        style = "bold" if origin != "default" else ""
        table.add_row(_text(key), _text(shown), _text(origin), style=style)
    _out.print(table)


@contextmanager
def progress(total: int) -> Iterator:
    """A bar over the sources; ``tick(source, batch)`` advances it and names the file."""
    bar = _bar()
    with bar:
        task = bar.add_task("collecting", total=total)

        def tick(source, batch, done: bool = True) -> None:
            bar.update(task, advance=int(done), description=_plain(_label(source, batch)))
            if batch is not None and batch.malformed:
                _err.print(_text(f"{batch.source}: {batch.malformed} malformed line(s)",
                                 "yellow"))
                for sample in batch.samples:
                    _err.print(_text(f"  {sample}"))

        def lines(source, n: int) -> None:
            bar.update(task, description=_plain(f"{_label(source)} ({n:,} lines)"))

        tick.lines = lines
        yield tick


def _label(source, batch=None) -> str:
    """What the bar shows: ``logs: x.log`` for a file, the batch's name for a live source."""
    if hasattr(source, "path"):
        return f"{source.kind}: {source.path.name}"
    return batch.source if batch is not None else source.name


@contextmanager
def steps(total: int, what: str) -> Iterator:
    """A bar over named steps (scenarios of ``rca eval``); ``advance(name)`` after each."""
    bar = _bar()
    with bar:
        task = bar.add_task(what, total=total)
        yield lambda name: bar.update(task, advance=1, description=_plain(f"{what}: {name}"))


def _bar() -> Progress:
    """A transient bar on stderr whose description is never read as markup."""
    return Progress(TextColumn("{task.description}", markup=False), BarColumn(),
                    MofNCompleteColumn(), TimeElapsedColumn(), console=_err, transient=True)


def collect_summary(summary, zone: tzinfo, fmt: str) -> None:
    span = ([to_display(summary.first, zone), to_display(summary.last, zone)]
            if summary.first is not None else None)
    data = {
        "window": {"since": to_display(summary.since, zone),
                   "until": to_display(summary.until, zone)},
        "covered": span, "rows": summary.read, "new_rows": summary.new,
        "outside_window": summary.outside_window, "malformed": summary.malformed,
        "files": summary.files, "gaps": [gap_dict(g, zone) for g in summary.gaps],
    }
    if fmt == "json":
        dump_json(data)
        return
    table = Table("file", "lines", "rows", "malformed", title="collected")
    for f in summary.files:
        rows = ", ".join(f"{t}={n}" for t, n in f["rows"].items()) or "-"
        if f.get("error"):
            rows = f"unreadable: {f['error']}"
        table.add_row(_text(f["file"]), str(f["lines"]), rows, str(f["malformed"]))
    _out.print(table)
    totals = ", ".join(f"{t}: {n} ({summary.new.get(t, 0)} new)" for t, n in summary.read.items())
    _out.print(_text(f"rows: {totals or 'none'}"))
    _out.print(_text(f"covered: {span[0]} → {span[1]}" if span
                     else "covered: nothing in the window"))
    if summary.outside_window:
        _out.print(f"outside the window (not stored): {summary.outside_window} rows")
    _out.print(f"malformed lines: {summary.malformed}")
    for gap in data["gaps"]:
        _out.print(Text.assemble(("gap: ", "yellow"), _text(gap_text(gap))))


def gap_text(gap: dict) -> str:
    """``source: what [since → until]: reason``: what was not collected, for which part
    of the window, and why (the window left out when the source could not say)."""
    span = (f" [{gap.get('since') or '…'} → {gap.get('until') or '…'}]"
            if gap.get("since") or gap.get("until") else "")
    return f"{gap['source']}: {gap['what']}{span}: {gap['reason']}"


def gap_dict(gap, zone: tzinfo | None = None) -> dict:
    """A live source's ``Gap`` as JSON: the summary, the collection record, the report."""
    def when(t):
        return None if t is None else (to_display(t, zone) if zone else t.isoformat())

    return {"source": gap.source, "what": gap.what, "reason": gap.reason,
            "since": when(gap.since), "until": when(gap.until)}


def incidents_table(result: dict) -> None:
    """One line per incident, narrow enough for an 80-column terminal or a pipe."""
    table = Table("incident", "local time", "failed (symptoms)", "services",
                  "top cause (score)",
                  title=f"{len(result['incidents'])} incident(s)")
    for inc in result["incidents"]:
        causes = inc["causes"]
        top = (f"{causes[0]['id']} ({causes[0]['score']:.2f})" if causes else "-")
        when = f"{inc['start'][:10]} {inc['start'][11:19]}–{inc['end'][11:]}"
        services = inc["scope"].get("services", [])
        symptoms = inc["symptoms"]
        what = ", ".join(symptoms.get("kinds", [])) or "-"
        failed = symptoms.get("failed_requests")
        table.add_row(_text(inc["id"]), _text(when),
                      _text(what if failed is None else f"{failed} ({what})"),
                      _text(f"{len(services)}: {', '.join(services)}"), _text(top))
    table.columns[0].no_wrap = True
    table.columns[1].no_wrap = True
    _out.print(table)
    for gap in result["gaps"]:
        _out.print(Text.assemble(("gap: ", "yellow"), _text(gap["message"])))
    for gap in (result.get("collection") or {}).get("gaps") or []:  # live sources' gaps
        _out.print(Text.assemble(("not collected: ", "yellow"), _text(gap_text(gap))))


def _plain(value) -> str:
    """A progress description: the column renders it without markup, so only control
    characters and secrets need taking out."""
    return _text(value).plain


def eval_table(grades, tot) -> None:
    """One line per scenario, then the totals and every wrong or missing answer."""
    table = Table("scenario", "expected", "found", "matched", "AC@1", "AC@3", "s",
                  title=f"{tot.scenarios} scenario(s)")
    for g in grades:
        table.add_row(_text(g.name), str(g.expected), str(g.found), str(g.matched_expected),
                      str(g.at1), str(g.at3), f"{g.seconds:.1f}")
    table.columns[0].no_wrap = True
    _out.print(table)
    _out.print(f"recall {tot.recall:.3f}  precision {tot.precision:.3f}  AC@1 {tot.ac1:.3f}  "
               f"AC@3 {tot.ac3:.3f}  entity hits {tot.entity_hit_rate:.3f}  "
               f"false incidents on {tot.quiet_days} quiet day(s): {tot.false_on_quiet}")
    for g in grades:
        for miss in g.misses:
            _out.print(_text(f"  {g.name}: {miss}"))


def store_notes(notes) -> None:
    """What the store put right of an interrupted earlier run: worth a line, not silence."""
    for note in notes:
        _err.print(Text("store: ").append(_text(note)))


def compact_summary(merged) -> None:
    if not merged:
        _out.print("compact: every table-day already holds a single part")
    for m in merged:
        line = (f"compact: {m['table']} {m['day']}: {m['parts']} parts, "
                f"{m['rows_before']} rows -> 1 part, {m['rows_after']} rows")
        if m["dropped_corrupt"]:
            line += f"; set aside (corrupt): {', '.join(m['dropped_corrupt'])}"
        _out.print(_text(line))
