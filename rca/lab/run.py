"""One lab run: platform up, baseline, fault, recovery, then ``rca collect`` + ``rca analyze``.

Why through the real command line (``rca.cli.main``): the lab's claim is that the tool a
user runs names the fault, so collection reads the live Prometheus (``--prometheus``) and
the log and Kubernetes files exactly as a user's ``rca collect`` would, into a store of the
run's own, and ``rca analyze -o json`` gives the ranking that is graded. Nothing private.

Grading: the incident that overlaps the injection window is the one judged; the truth's
rank is its place among that incident's judged causes (status ok, score > 0). A run
passes when it expects an incident and the truth ranks first, or expects none and the
analysis finds none.

``keep``: the run's raw outputs as a scenario directory (``docs/scenarios.md``): logs,
kube JSON, the lab Prometheus' raw samples as OpenMetrics (``metrics/node-exporter.om``)
and ``expected.json`` from the injection window, so ``rca eval`` grades it later.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from rca.lab.host import Lab, LabError, preflight, stop
from rca.lab.keep import export_openmetrics, write_scenario_dir
from rca.lab.metrics import SCRAPE_S, targets_up
from rca.lab.platform import start_stations
from rca.lab.scenario import Plan, Scenario, Variant

__all__ = ["Result", "grade", "run"]

#: Seconds of data before the first request and after the last kept in the window.
MARGIN_S = 5.0
#: A run is a day compressed into a minute or a few: the time *resolution* settings are
#: scaled to it (signals every 5 s instead of 60 s; evidence padded 10 s around the
#: symptoms instead of 60 s, so a 25 s baseline is not swallowed by the padding). No
#: cause threshold is changed. Written as the run's rca.yaml (kept with --keep).
RUN_CONFIG = {"sources": {"prometheus": {"step_s": 5}},
              "thresholds": {"incidents": {"pad_s": 10.0}}}


@dataclass
class Result:
    """One row of the ``rca lab`` table."""

    scenario: str
    cause: str | None
    expect_incident: bool
    top: str = ""
    rank: int | None = None
    incident: tuple[str, str] | None = None
    incidents: int = 0
    fault: tuple[str, str] | None = None
    #: wall time of the run itself, without waiting for another run's lock
    seconds: float = 0.0
    passed: bool = False
    error: str = ""
    ranked: list[str] = field(default_factory=list)
    kept: str = ""
    #: what the run created, so a caller can check none of it is left
    lab_id: str = ""
    pids: list[int] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def grade(result: Result, analysis: dict, fault: tuple[float, float]) -> Result:
    """Fill ``result`` from ``rca analyze -o json`` output and the injection window."""
    incidents = analysis.get("incidents", [])
    result.incidents = len(incidents)
    start, end = (datetime.fromtimestamp(t, UTC) for t in fault)
    hits = [i for i in incidents
            if _ts(i["start"]) <= end and start <= _ts(i["end"])]
    if hits:
        best = max(hits, key=lambda i: (min(_ts(i["end"]), end)
                                        - max(_ts(i["start"]), start)).total_seconds())
        judged = [c["id"] for c in best["causes"] if c["status"] == "ok" and c["score"] > 0]
        result.ranked = judged[:5]
        result.top = judged[0] if judged else ""
        result.incident = (best["start"], best["end"])
        if result.cause in judged:
            result.rank = judged.index(result.cause) + 1
    if result.expect_incident:
        result.passed = result.rank == 1
    else:
        result.passed = not incidents
    return result


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def run(scenario: Scenario, quick: bool = True, variant: Variant | None = None,
        keep: Path | None = None, say: Callable[[str], None] = print,
        workdir: Path | None = None) -> Result:
    """Run ``scenario`` (or one of its variants) once; always cleans up."""
    name = scenario.name + (variant.suffix if variant else "")
    expect = variant.expect_incident if variant else scenario.expect_incident
    result = Result(name, scenario.cause, expect)
    t0 = time.monotonic()
    durations = scenario.quick if quick else scenario.full
    own_dir = workdir is None
    workdir = workdir or Path(tempfile.mkdtemp(prefix=f"rca-lab-{scenario.name}-"))
    plan = Plan(name, workdir, durations, dict(variant.options) if variant else {})
    lab = Lab(workdir / "lab", say=say)
    try:
        preflight(("ip", "iptables", "prometheus", "prometheus-node-exporter",
                   *scenario.tools))
        with lab:
            say(f"{name}: platform up in {lab.net} (lab {lab.lab_id})")
            scenario.build(lab, plan)
            _wait_scraped(plan, say)
            analysis, fault = _timeline(lab, scenario, plan, say, keep, result)
        errors = lab.cleanup_errors
        if errors:
            raise LabError("cleanup left: " + "; ".join(errors))
        grade(result, analysis, fault)
    except (LabError, OSError) as exc:
        result.error = str(exc)
    except Exception as exc:  # noqa: BLE001 - one broken run must not stop `rca lab all`
        result.error = f"{type(exc).__name__}: {exc}"
    finally:
        result.lab_id, result.pids = lab.lab_id, [p.pid for p in lab.processes]
        result.seconds = round(time.monotonic() - t0 - lab.waited_s, 1)
        if own_dir and not result.error:
            shutil.rmtree(workdir, ignore_errors=True)
        elif result.error:
            say(f"{name}: failed; the run's files are in {workdir}")
    return result


def _wait_scraped(plan: Plan, say, within_s: float = 20.0) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        up = targets_up(plan.prometheus)
        if len(up) == len(plan.exporters) and all(up.values()):
            return
        time.sleep(1)
    raise LabError(f"Prometheus does not scrape every lab node_exporter: {up}")


def _timeline(lab: Lab, scenario: Scenario, plan: Plan, say, keep: Path | None,
              result: Result) -> tuple[dict, tuple[float, float]]:
    d = plan.durations
    begin = time.time()
    stations = start_stations(lab, plan, d.load_s)
    say(f"{plan.name}: load {plan.qps:g} req/s from {plan.stations} stations; "
        f"baseline {d.baseline_s:g} s")
    time.sleep(d.baseline_s)
    fault_start = time.time()
    lift = scenario.inject(lab, plan)
    say(f"{plan.name}: fault injected for {d.fault_s:g} s: {scenario.describe}")
    time.sleep(d.fault_s)
    fault_end = time.time()
    if lift is not None:
        lift()
    say(f"{plan.name}: fault lifted; recovery {d.recovery_s:g} s")
    for proc in stations:
        try:
            proc.wait(d.recovery_s + 20)
        except subprocess.TimeoutExpired:  # a stuck station is stopped, its log kept
            stop(proc)
    time.sleep(2 * SCRAPE_S)  # two scrapes after the last request
    end = time.time()
    result.fault = (_iso(fault_start), _iso(fault_end))
    plan.kube.write(plan.workdir / "kube")
    since, until = _iso(begin - MARGIN_S), _iso(end + MARGIN_S)
    say(f"{plan.name}: rca collect + analyze {since} .. {until}")
    analysis = collect_and_analyze(plan, since, until)
    if keep is not None:
        metrics = export_openmetrics(plan.prometheus, begin - MARGIN_S, end + MARGIN_S)
        expect = scenario.cause if result.expect_incident else None
        write_scenario_dir(keep / plan.name, plan.workdir, metrics, (since, until),
                           (fault_start, fault_end) if expect else None, expect,
                           scenario.also, analysis)
        result.kept = str(keep / plan.name)
    return analysis, (fault_start, fault_end)


def collect_and_analyze(plan: Plan, since: str, until: str) -> dict:
    """``rca collect`` (files + live Prometheus) then ``rca analyze -o json``."""
    store = plan.workdir / "store"
    config = plan.workdir / "rca.yaml"
    config.write_text(json.dumps(RUN_CONFIG), encoding="utf-8")
    common = ["--store", str(store), "--since", since, "--until", until, "--tz", "UTC",
              "--config", str(config)]
    logs = sorted(str(p) for p in plan.logs.iterdir())
    kube = sorted(str(p) for p in (plan.workdir / "kube").glob("*.json"))
    argv = ["collect", *common, "--prometheus", plan.prometheus,
            *(f"--logs={p}" for p in logs), *(f"--kube={p}" for p in kube)]
    _cli(argv, plan.workdir / "collect.out")
    out = _cli(["analyze", *common, "-o", "json"], plan.workdir / "analyze.out")
    return json.loads(out)


def _cli(argv: list[str], err_path: Path) -> str:
    from rca import cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(argv)
    err_path.write_text(err.getvalue() + out.getvalue(), encoding="utf-8")
    if code not in (0, None):
        raise LabError(f"rca {argv[0]} exited {code}: {err.getvalue().strip()[-400:]}")
    return out.getvalue()
