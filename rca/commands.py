"""What each ``rca`` subcommand does once the options are read and the config is loaded."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time as clock
from datetime import date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pandas as pd

from rca import output
from rca.collect import CollectError, Source, Summary, check_sources, expand_logs
from rca.collect import collect as run_collect
from rca.config import Config
from rca.live import Flags, Gap, SourceError, configured
from rca.redact import redact_obj
from rca.store import Store
from rca.timeutil import to_display

if TYPE_CHECKING:  # the analysis API draws figures: matplotlib is ~0.5 s that collect skips
    from rca.api import Session

__all__ = ["UsageError", "analyze", "collect", "compact", "daily", "demo", "evaluate",
           "report", "show_config", "watch"]


class UsageError(ValueError):
    """The command line asks for something that cannot be done; the message says why."""


def show_config(config: Config, fmt: str) -> int:
    _table_or_json(fmt)
    rows = [(key, redact_obj(value, key.rsplit(".", 1)[-1]), origin)
            for key, value, origin in config.flat()]
    if fmt == "json":
        output.dump_json([{"key": k, "value": v, "origin": o} for k, v, o in rows])
    else:
        output.config_table(rows)
    return 0


def _sources(args, config: Config) -> list[Source]:
    """File sources: the flags, plus ``sources.logs.globs`` when no --logs is given."""
    globs = args.logs or config.get("sources.logs.globs")
    fmt = args.log_format if args.logs else config.get("sources.logs.format")
    try:
        logs = expand_logs(globs)
        sources = ([Source("kube", Path(p)) for p in args.kube]
                   + [Source("metrics", Path(p)) for p in args.metrics_file]
                   + [Source("logs", p, fmt) for p in logs])
        check_sources(sources)
    except CollectError as exc:
        raise UsageError(str(exc)) from exc
    return sources


def live_flags(args) -> Flags:
    """The live-source options of the command line (each collector adds its own)."""
    return Flags({key: getattr(args, key, None) for key in LIVE_FLAGS})


#: argparse destinations of the live-source flags (``rca.cli`` defines them).
LIVE_FLAGS = ("kubeconfig", "context", "in_cluster", "namespace",
              "prometheus", "prometheus_token_file", "prometheus_ca_file", "insecure",
              "prometheus_header", "loki", "logql")


def _live(args, config: Config) -> list:
    """Every configured live source, unless files are named on the command line and no
    live flag is given (then the files alone: a one-off look at an attached dump)."""
    flags = live_flags(args)
    named_files = args.kube or args.metrics_file or args.logs
    if named_files and not any(flags.values.values()):
        return []
    try:
        return configured(config, flags)
    except SourceError as exc:
        raise UsageError(str(exc)) from exc


def collect(args, config: Config, zone: tzinfo, since, until) -> int:
    """Files named on the command line; with none, every live source configured (and
    the live flags add or override)."""
    _table_or_json(args.output)
    sources, live = _sources(args, config), _live(args, config)
    if not sources and not live:
        raise UsageError("nothing to collect: give --kube, --metrics-file or --logs, "
                         "a live source (--prometheus, --loki, --kubeconfig, --context, "
                         "--in-cluster), or configure sources: in rca.yaml")
    store = Store(config.get("store"), config.get("compact.max_parts_per_day"))
    t0 = clock.perf_counter()
    try:
        with output.progress({s.path: _size(s.path) for s in sources}, len(live)) as tick:
            summary = run_collect(store, sources, since, until, config, zone, tick, tick.lines,
                                  live=live, on_bytes=tick.bytes)
    except CollectError as exc:
        raise UsageError(str(exc)) from exc
    _save_collection(store, summary, clock.perf_counter() - t0)
    output.store_notes(summary.store_notes)
    output.collect_summary(summary, zone, args.output)
    for name in summary.failed:
        output.error(next(g.reason for g in summary.gaps
                          if g.source == name and g.what == "everything"))
    _name_sources_without_rows(summary)
    return 1 if summary.failed or summary.empty or summary.unreadable else 0


def watch(args, config: Config, zone: tzinfo) -> int:
    """Follow the cluster's Events into the store (``collectors.kube_watch``)."""
    from collectors.kube_api import connect
    from collectors.kube_watch import Watcher
    from rca.live import LiveError

    conf = config.get("sources.kube")
    flags = live_flags(args)
    store = Store(config.get("store"))
    try:
        api_client = connect(flags.get("kubeconfig", conf["kubeconfig"]),
                             flags.get("context", conf["context"]),
                             bool(flags.get("in_cluster", conf["in_cluster"])))
        watcher = Watcher(api_client, store, zone,
                          namespaces=flags.get("namespace") or conf["namespaces"],
                          max_failures=int(conf["watch"]["max_failures"]),
                          flush_after_s=float(conf["watch"]["flush_after_s"]),
                          backoff_cap_s=float(conf["watch"]["backoff_cap_s"]))
    except LiveError as exc:
        output.error(str(exc))
        return 1
    previous = signal.signal(signal.SIGTERM, _interrupt)  # a pod being replaced: stop cleanly
    started = pd.Timestamp.now(tz="UTC")
    try:
        stats = watcher.run(duration_s=args.duration, once=args.once)
    except LiveError as exc:
        output.error(str(exc))
        _save_watch_gap(store, watcher.stats.last_contact or started, str(exc))
        return 1
    except KeyboardInterrupt:
        stats = watcher.stop()
    finally:
        signal.signal(signal.SIGTERM, previous)
    if args.output == "json":
        output.dump_json(vars(stats))
    else:
        print(f"watch: listed {stats.listed}, {stats.changes} change(s), {stats.new_rows} new "
              f"row(s), {stats.connections} connection(s), {stats.reconnects} reconnect(s), "
              f"{stats.relists} re-list(s); resourceVersion {stats.resource_version or '-'}")
    return 0


def _save_watch_gap(store: Store, since, reason: str) -> None:
    """A watcher that stops on an error leaves a named gap in the store, from the API's
    last answer to now: Events of that span are in the store only if the API server
    still held them (about an hour) when a watcher came back, and ``rca analyze`` and the
    report must say so rather than show a quiet hour."""
    since, now = pd.Timestamp(since), pd.Timestamp.now(tz="UTC")
    gap = Gap("kube", "events (rca watch)", f"{reason}; Events of this span are kept only "
              "if the API server still held them when the watch came back", since, now)
    _save_collection(store, Summary(since, now, gaps=[gap]), 0.0)


def _size(path) -> int:
    """A file's size for the progress bar (0 when it cannot even be looked at: the
    collection names such a file itself)."""
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _name_sources_without_rows(summary) -> None:
    """Name every file that gave no row, whether it could not be read or held nothing
    readable: either way a source named on the command line is missing from the record,
    so the collection exits 1 (what the other sources gave still lands), and a cron job
    does not take the day for a quiet one."""
    for path, reason in summary.unreadable.items():
        output.error(f"cannot read {path}: {reason}")
    for path, why in summary.empty.items():
        output.error(f"{path} gave no row: {why}")


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _save_collection(store: Store, summary, seconds: float) -> None:
    """Keep the accounting of every collection beside the data, so the report can show
    the malformed lines of the files behind it long after the terminal is gone."""
    store.save_collection({
        "at": pd.Timestamp.now(tz="UTC").isoformat(),
        "since": summary.since.isoformat(), "until": summary.until.isoformat(),
        "seconds": round(seconds, 3), "files": summary.files,
        "rows": summary.read, "new": summary.new, "outside_window": summary.outside_window,
        "gaps": [output.gap_dict(g) for g in summary.gaps],
    })


def _collections(store: Store, since, until, zone: tzinfo) -> dict:
    """Malformed counts per file (the latest collection of a file wins) and what live
    sources could not get (``gaps``, times in the user's zone), from the collections that
    overlap the window."""
    malformed: dict[str, int] = {}
    gaps: dict[tuple, dict] = {}
    for rec in store.collections():
        if pd.Timestamp(rec["since"]) < until and pd.Timestamp(rec["until"]) > since:
            for f in rec["files"]:
                malformed[f["file"]] = f["malformed"]
            for gap in rec.get("gaps", []):
                gaps[(gap["source"], gap["what"], gap["reason"])] = {
                    **gap, **{k: to_display(pd.Timestamp(gap[k]), zone)
                              for k in ("since", "until") if gap.get(k)}}
    return {"malformed": {f: n for f, n in malformed.items() if n},
            "gaps": list(gaps.values())}


def _table_or_json(fmt: str) -> None:
    if fmt not in ("table", "json"):
        raise UsageError(f"-o {fmt!r}: choose table or json")


def _existing_store(config: Config) -> Store:
    store = Store(config.get("store"))
    if not store.exists():
        raise UsageError(f"store {store.root} not found: run `rca collect --store "
                         f"{store.root} …` first (or pass the right --store)")
    return store


def _analysis(config: Config, zone: tzinfo, since, until,
              only: list[str] | None = None) -> tuple[Session, dict]:
    """The window through the public API (``rca.open``'s Session), so the commands and a
    notebook cannot disagree; the dict is the JSON contract, redacted."""
    store = _existing_store(config)
    try:
        from rca.causes import select as select_causes

        causes = select_causes(only)
    except KeyError as exc:
        raise UsageError(f"--cause: {exc.args[0]}") from exc
    from rca.api import Session

    session = Session(store, config, since, until, causes=causes, zone=zone)
    extra = {"tz": config.get("tz"), "context": config.get("context"),
             "collection": {"tables": store.tables(), **_collections(store, since, until, zone)}}
    # redacted here too: the store may predate redaction, and config values are echoed
    return session, redact_obj(session.to_dict(extra))


def analyze(args, config: Config, zone: tzinfo, since, until) -> int:
    _table_or_json(args.output)
    _, result = _analysis(config, zone, since, until, getattr(args, "cause", None))
    if args.output == "json":
        output.dump_json(result)
    else:
        output.incidents_table(result)
    return 0


def report(args, config: Config, zone: tzinfo, since, until) -> int:
    folder = _report_dir(args.output)
    path, result = _write_report(folder, config, zone, since, until,
                                 getattr(args, "cause", None))
    print(f"report: {path} ({len(result['incidents'])} incident(s))")
    return 0


def _write_report(folder: Path, config: Config, zone: tzinfo, since, until,
                  only: list[str] | None = None) -> tuple[Path, dict]:
    from rca.report import render_report, write_report

    session, result = _analysis(config, zone, since, until, only)
    from rca.causes import select as select_causes

    causes = list(select_causes(None).values())
    html = render_report(result, session.analysis.timeline, config.get("tz"),
                         max_evidence_rows=int(config.get("report.max_evidence_rows")),
                         cause_signals={c.id: c.signals() for c in causes},
                         cause_lines={c.id: c.lines(config.thresholds(c.config_key))
                                      for c in causes})
    try:
        path = write_report(html, folder / _report_name(since, until, zone))
    except OSError as exc:
        raise UsageError(f"-o {folder}: cannot write the report there: "
                         f"{exc.strerror or exc}") from exc
    return path, result


def compact(args, config: Config, zone: tzinfo, since, until) -> int:
    """Merge each table-day's parts into one; with --drop-corrupt, set corrupt parts aside."""
    _table_or_json(args.output)
    store = _existing_store(config)
    merged = store.compact(drop_corrupt=args.drop_corrupt)
    output.store_notes(store.recovered)
    if args.output == "json":
        output.dump_json({"merged": merged})
    else:
        output.compact_summary(merged)
    return 0


def _report_dir(text: str) -> Path:
    """``report -o`` names a directory (one page per day goes in it)."""
    return _directory("-o", text, "report -o takes a directory (the page is named after "
                                  "the day)")


def _directory(flag: str, text: str, why: str) -> Path:
    """A directory a flag names, checked before any work runs so a typo costs nothing."""
    folder = Path(text)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{flag} {text}: is a file; {why}")
    if any(p.exists() and not p.is_dir() for p in folder.parents):
        raise UsageError(f"{flag} {text}: a parent of it is a file, not a directory")
    return folder


def _report_name(since, until, zone) -> str:
    first = since.tz_convert(zone).date()
    last = (until - pd.Timedelta(microseconds=1)).tz_convert(zone).date()
    return f"{first}.html" if first == last else f"{first}_{last}.html"


def daily(args, config: Config, zone: tzinfo, since, until) -> int:
    """One local day (``--date``, default yesterday in ``--tz``), midnight to midnight:
    collect from the configured live sources and the file flags, analyze, write
    ``DAY.html`` and ``DAY.json``, rebuild ``index.html``, then tell the webhook. Every
    step overwrites the same files and the store de-duplicates, so a re-run is safe.
    Exit 0 whatever was found (``--fail-on-incident``: 1 when something was)."""
    from rca import notify
    from rca.report import write_report
    from rca.report.index import write_index

    day = _daily_date(getattr(args, "date", None), zone)
    since, until = _local_midnight(day, zone), _local_midnight(day + timedelta(days=1), zone)
    folder = _report_dir(args.output)
    webhook = getattr(args, "notify_webhook", None) or config.get("daily.notify_webhook")
    if webhook and urlsplit(webhook).scheme not in ("http", "https"):
        raise UsageError(f"--notify-webhook must be an http(s) URL (got "
                         f"{notify.where(webhook)})")
    collected = _daily_collect(args, config, zone, since, until)
    html, result = _write_report(folder, config, zone, since, until)
    try:
        data = json.dumps(result, indent=1, ensure_ascii=False, default=str)
        path = write_report(data + "\n", folder / f"{day}.json")
        write_index(folder)
    except OSError as exc:
        raise UsageError(f"-o {folder}: cannot write there: {exc.strerror or exc}") from exc
    print(f"daily {day}: {html} and {path.name} ({len(result['incidents'])} incident(s)); "
          f"index: {folder / 'index.html'}")
    if webhook:
        base = config.get("daily.report_url")
        link = f"{base.rstrip('/')}/{html.name}" if base else str(html.resolve())
        failure = notify.post(webhook, notify.message(str(day), result, link))
        if failure:
            output.error(f"webhook not notified: {failure}; the report is written: {html}")
    if getattr(args, "fail_on_incident", False) and result["incidents"]:
        return 1
    return collected


def _daily_date(text: str | None, zone: tzinfo) -> date:
    if not text:
        return pd.Timestamp.now(tz=zone).date() - timedelta(days=1)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--date {text!r}: give a day as YYYY-MM-DD") from None


def _daily_collect(args, config: Config, zone: tzinfo, since, until) -> int:
    """Collect when there is anything to collect from: file flags or live sources in the
    config (``rca.live``). With neither, the day is analysed from what the store holds."""
    if not (args.kube or args.metrics_file or _sources(args, config) or _live(args, config)):
        return 0
    return collect(argparse.Namespace(**{**vars(args), "output": "table"}), config,
                   zone, since, until)


def _local_midnight(day: date, zone: tzinfo) -> pd.Timestamp:
    """Midnight of ``day`` in ``zone``, in UTC. Built from the calendar date, not by
    subtracting 24 hours, so a day with a DST change is 23 or 25 hours long as it is."""
    return pd.Timestamp(datetime.combine(day, time(0), tzinfo=zone)).tz_convert("UTC")


def demo(args, config: Config) -> int:
    """Generate the replay's raw telemetry, then run the same commands a user runs: each
    step is printed as the command line to type, read by the same parser, and handed to
    the same command function (not re-entering ``cli.main``)."""
    from rca.cli import build_parser
    from rca.config import load as load_config
    from rca.replay import builtin, generate
    from rca.timeutil import get_zone, parse_instant

    work = _directory("--workdir", args.workdir, "the replay writes a folder there")
    _report_dir(args.reports)
    try:
        scenario = generate(builtin(args.scenario), work / args.scenario)
    except OSError as exc:
        raise UsageError(f"--workdir {work}: cannot write the replay there: "
                         f"{exc.strerror or exc}") from exc
    expected = json.loads((scenario / "expected.json").read_text())
    zone_name = expected["tz"]
    since, until = expected["window"]["since"], expected["window"]["until"]
    store = args.store
    if not store:  # the demo's own store: start clean, so a re-run never mixes versions
        store = str(work / f"store-{args.scenario}")
        shutil.rmtree(store, ignore_errors=True)
    common = ["--store", store, "--since", since, "--until", until, "--tz", zone_name]
    if args.config:
        common += ["--config", args.config]
    steps = [["collect", *common, *replay_flags(scenario)],
             ["analyze", *common, "-o", args.output],
             ["report", *common, "-o", args.reports]]
    config = load_config(args.config, {"tz": zone_name, "store": store})
    zone = get_zone(zone_name)
    window = (parse_instant(since, zone), parse_instant(until, zone))
    handlers = {"collect": collect, "analyze": analyze, "report": report}
    for step in steps:
        print("$ rca " + " ".join(step), file=sys.stderr)
        code = handlers[step[0]](build_parser().parse_args(step), config, zone, *window)
        if code:
            return code
    return 0


def replay_flags(scenario: Path) -> list[str]:
    """The ``rca collect`` source flags that read a generated scenario directory."""
    flags = [*(f for p in sorted((scenario / "kube").glob("*.json")) for f in ("--kube", str(p))),
             *(f for p in sorted((scenario / "metrics").glob("*.om"))
               for f in ("--metrics-file", str(p)))]
    if any(p.is_file() for p in (scenario / "logs").glob("*")):  # seed 001 had no logs
        flags += ["--logs", str(scenario / "logs" / "*")]
    return flags


def evaluate(args, config: Config) -> int:
    """Grade the analysis on labelled scenarios; exit 1 below the given thresholds."""
    from rca import evaluate as ev

    _table_or_json(args.output)
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="rca-eval-work-"))
    try:
        try:
            dirs = ev.expand([Path(p) for p in args.paths], work)
        except (ValueError, OSError) as exc:
            raise UsageError(f"eval: {exc}") from exc
        grades = []
        with output.steps(len(dirs), "scenarios") as advance:
            for d in dirs:
                t0 = clock.perf_counter()
                expected, analysis = ev.run_scenario(d, config)
                grades.append(ev.grade(d.name, expected, analysis, clock.perf_counter() - t0))
                advance(d.name)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    tot = ev.total(grades)
    if args.output == "json":
        output.dump_json({"total": tot.as_dict(),
                          "scenarios": [{**vars(g)} for g in grades]})
    else:
        output.eval_table(grades, tot)
    below = [f"{name} {value:.3f} < {floor}" for name, value, floor in (
        ("recall", tot.recall, args.min_recall), ("precision", tot.precision, args.min_precision),
        ("AC@1", tot.ac1, args.min_ac1), ("AC@3", tot.ac3, args.min_ac3))
        if floor is not None and value < floor]
    if args.max_false_on_quiet is not None and tot.false_on_quiet > args.max_false_on_quiet:
        below.append(f"false incidents on quiet days {tot.false_on_quiet} > "
                     f"{args.max_false_on_quiet}")
    for line in below:
        print(f"rca eval: below threshold: {line}", file=sys.stderr)
    return 1 if below else 0
