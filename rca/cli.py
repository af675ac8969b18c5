"""The ``rca`` command line: collect, analyze, report, daily, watch, compact, demo, config.

Why every subcommand shares one set of options (``--since --until --tz --store -o
--config``) and one start-up: configuration is loaded and validated once, before any
work, and the context it names is printed on every run (seed 004: a job that silently
ran against ``dev``).
"""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from collectors.logs import FORMATS as LOG_FORMATS
from rca import __version__, commands
from rca.config import ConfigError
from rca.config import load as load_config
from rca.redact import redact_text
from rca.store import StoreError
from rca.timeutil import TimeError, get_zone, parse_since

__all__ = ["main"]

FORMATS = ["auto", *LOG_FORMATS]  # the registry decides; a new parser needs no edit here


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad flag is one ``rca: error:`` line like every other error: the
    usage block it prints by default buries the one line that says what is wrong."""

    def error(self, message: str):
        self.exit(2, f"rca: error: {self.prog}: {message} (see {self.prog} --help)\n")


class _Names:
    """Scenario names looked up only when a command checks or lists them: importing the
    replay or the lab (~30 ms each) is paid by ``demo`` and ``lab``, not by every
    ``collect``."""

    def __init__(self, load, *more: str) -> None:
        self._load, self._more = load, more

    def __contains__(self, name: object) -> bool:
        return name in self._names()

    def __iter__(self):
        return iter(self._names())

    def _names(self) -> tuple[str, ...]:
        return (*self._load(), *self._more)


def _replay_scenarios() -> tuple[str, ...]:
    from rca.replay import BUILTINS

    return tuple(BUILTINS)


def _lab_scenarios() -> tuple[str, ...]:
    from rca.lab.scenarios import SCENARIOS

    return tuple(SCENARIOS)


def _common() -> argparse.ArgumentParser:
    """A fresh parent per subcommand: argparse's set_defaults mutates shared actions."""
    p = _Parser(add_help=False)
    g = p.add_argument_group("common options")
    g.add_argument("--since", default="24h",
                   help="start: 24h, 90m, 7d (before --until) or ISO time (default 24h)")
    g.add_argument("--until", default=None, help="end: ISO time (default now)")
    g.add_argument("--tz", default=None, help="display zone and zone of zone-less input "
                   "(default from config, e.g. Asia/Shanghai)")
    g.add_argument("--store", default=None, help="store directory (default ./rca-data)")
    g.add_argument("-o", "--output", default="table", help="table | json "
                   "(report: the output directory)")
    g.add_argument("--config", default=None,
                   help="config file (else $RCA_CONFIG, else ./rca.yaml, else defaults)")
    return p


def _sources(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("sources (file mode)")
    g.add_argument("--kube", action="append", default=[], metavar="FILE",
                   help="kubectl get … -o json output (events, pods, nodes, deployments)")
    g.add_argument("--metrics-file", action="append", default=[], metavar="FILE",
                   help="Prometheus text / OpenMetrics file with timestamps")
    g.add_argument("--logs", action="append", default=[], metavar="GLOB",
                   help="log files (glob); format from --log-format")
    g.add_argument("--log-format", default="auto", choices=FORMATS)
    _kube_flags(p)
    _remote_flags(p)


def _kube_flags(p: argparse.ArgumentParser) -> None:
    """Live Kubernetes options; they add to or override ``sources.kube`` in rca.yaml."""
    g = p.add_argument_group("sources (live Kubernetes API)")
    g.add_argument("--kubeconfig", default=None, metavar="FILE",
                   help="kubeconfig file (default $KUBECONFIG, else ~/.kube/config)")
    g.add_argument("--context", default=None, help="kubeconfig context (default: current)")
    g.add_argument("--in-cluster", action="store_true", default=None,
                   help="use the pod's service account (inside a cluster)")
    g.add_argument("--namespace", action="append", default=None, metavar="NS",
                   help="only these namespaces (repeatable; default all)")


def _remote_flags(p: argparse.ArgumentParser) -> None:
    """Live Prometheus-compatible and Loki options; they add to or override
    ``sources.prometheus`` / ``sources.loki`` in rca.yaml."""
    g = p.add_argument_group("sources (live Prometheus-compatible API and Loki)")
    g.add_argument("--prometheus", metavar="URL",
                   help="Prometheus-compatible query API (Prometheus, Thanos, Mimir, "
                   "VictoriaMetrics)")
    g.add_argument("--prometheus-token-file", metavar="FILE", help="bearer token file")
    g.add_argument("--prometheus-ca-file", metavar="FILE", help="CA bundle for https")
    g.add_argument("--prometheus-header", action="append", default=[], metavar="K=V",
                   help="extra request header, e.g. X-Scope-OrgID=tenant (repeatable)")
    g.add_argument("--insecure", action="store_true", default=None,
                   help="do not verify TLS certificates of live sources")
    g.add_argument("--loki", metavar="URL", help="Loki query API")
    g.add_argument("--logql", action="append", default=[], metavar="QUERY",
                   help="LogQL stream selector to pull, e.g. '{app=\"ingress-nginx\"}' "
                   "(repeatable)")


def _cause_filter(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cause", nargs="+", metavar="ID", default=None,
                   help="judge only these causes (ids as in docs/causes.md)")


def _fraction(text: str) -> float:
    """A rate between 0 and 1 (``nan`` compares false with everything and would never
    fail a gate)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} must be between 0 and 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="rca", description="Timeout root-cause analysis for Kubernetes clusters.")
    parser.add_argument("--version", action="version", version=f"rca {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("collect", parents=[_common()], help="read sources into the store")
    _sources(p)
    p = sub.add_parser("analyze", parents=[_common()], help="find incidents and rank causes")
    _cause_filter(p)
    p = sub.add_parser("report", parents=[_common()], help="write the HTML report")
    _cause_filter(p)
    p.set_defaults(output="reports")
    p = sub.add_parser("daily", parents=[_common()],
                       help="collect, analyze and report one local day (default yesterday)")
    _sources(p)
    p.add_argument("--date", default=None, metavar="YYYY-MM-DD",
                   help="the local day to report (default yesterday in --tz)")
    p.add_argument("--fail-on-incident", action="store_true",
                   help="exit 1 when the day had an incident (for pipelines)")
    p.add_argument("--notify-webhook", default=None, metavar="URL",
                   help="post a short summary to this Slack/Mattermost/Teams incoming "
                        "webhook (default: daily.notify_webhook in config)")
    p.set_defaults(output="reports")
    p = sub.add_parser("demo", parents=[_common()], help="replay 2021-08-23 end to end")
    p.add_argument("--scenario", default="2021-08-23", choices=_Names(_replay_scenarios),
                   metavar="NAME",
                   help="built-in scenario, one of: %(choices)s (default 2021-08-23)")
    p.add_argument("--workdir", default="build/demo",
                   help="where the replay's raw telemetry and store go (default build/demo)")
    p.add_argument("--reports", default="reports", help="report directory (default reports)")
    p.set_defaults(since=None)
    p = sub.add_parser("watch", parents=[_common()],
                       help="follow the cluster's Events into the store (runs until stopped)")
    _kube_flags(p)
    p.add_argument("--once", action="store_true",
                   help="stop when the first watch connection ends (tests, cron)")
    p.add_argument("--duration", type=float, default=None, metavar="SECONDS",
                   help="stop after this many seconds")
    p = sub.add_parser("compact", parents=[_common()],
                       help="merge each table-day's parts into one (the store only appends)")
    p.add_argument("--drop-corrupt", action="store_true",
                   help="set corrupt or missing parts aside into <store>/corrupt/ and forget "
                        "their rows (after a failed integrity check)")
    sub.add_parser("config", parents=[_common()], help="print the configuration in effect")
    p = sub.add_parser("eval", parents=[_common()],
                       help="grade the analysis on labelled scenario directories")
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="scenario directory, folder of them, or corpus .py (SCENARIOS)")
    p.add_argument("--keep", default=None, metavar="DIR",
                   help="generate corpora here and keep them (default: a temporary folder)")
    for name in ("recall", "precision", "ac1", "ac3"):
        p.add_argument(f"--min-{name}", type=_fraction, default=None, metavar="X",
                       help=f"exit 1 when {name} is below X")
    p.add_argument("--max-false-on-quiet", type=int, default=None, metavar="N",
                   help="exit 1 when quiet days yield more than N incidents")
    p = sub.add_parser("lab", parents=[_common()],
                       help="reproduce real faults in network namespaces and grade the "
                            "analysis (root; docs/lab.md)")
    p.add_argument("scenario", metavar="SCENARIO",
                   choices=_Names(_lab_scenarios, "all"), help="one of: %(choices)s")
    p.add_argument("--quick", action="store_true",
                   help="short runs (about a minute each; what make test runs)")
    p.add_argument("--keep", default=None, metavar="DIR",
                   help="keep each run's raw outputs as a scenario directory under DIR "
                        "(rca eval grades it)")
    p.add_argument("--json", action="store_true", help="results as JSON on stdout")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = load_config(args.config, {"tz": args.tz, "store": args.store})
        zone = get_zone(config.get("tz"))
        _banner(config)
        if args.command == "config":
            return commands.show_config(config, args.output)
        if args.command == "demo":
            return commands.demo(args, config)
        if args.command == "watch":
            return commands.watch(args, config, zone)
        if args.command == "eval":
            return commands.evaluate(args, config)
        if args.command == "lab":
            from rca.lab.command import lab

            return lab(args)
        since, until = _window(args, zone)
        handler = {"collect": commands.collect, "analyze": commands.analyze,
                   "report": commands.report, "daily": commands.daily,
                   "compact": commands.compact}[args.command]
        return handler(args, config, zone, since, until)
    except (ConfigError, TimeError, StoreError, commands.UsageError) as exc:
        print(f"rca: error: {_one_line(exc)}", file=sys.stderr)
        return 2


def _window(args, zone) -> tuple[pd.Timestamp, pd.Timestamp]:
    """[since, until) in UTC; each error names the flag it is about."""
    now = pd.Timestamp.now(tz="UTC")
    until = _flag_time("--until", args.until, now, zone) if args.until else now
    since = _flag_time("--since", args.since, until, zone)
    if since >= until:
        raise TimeError(f"--since ({since}) must be before --until ({until})")
    return since, until


def _flag_time(flag: str, text: str, now: pd.Timestamp, zone) -> pd.Timestamp:
    try:
        return parse_since(text, now, zone)
    except TimeError as exc:
        raise TimeError(f"{flag}: {exc}") from None


def _one_line(exc: Exception) -> str:
    """The error on one line (YAML errors span several) with credentials redacted: a
    bad config value or URL is echoed back, and terminals end up in tickets."""
    return redact_text(" ".join(part.strip() for part in str(exc).splitlines() if part.strip()))


def _banner(config) -> None:
    origin = config.origins.get("context", "default")
    print(redact_text(f"rca {__version__}: context={config.get('context')} ({origin}), "
                      f"tz={config.get('tz')}, store={config.get('store')}"), file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

