"""``rca lab --keep DIR``: a run's raw outputs as a scenario directory ``rca eval`` grades.

Why: a real fault reproduced on real components is the best test case there is; kept in
the scenario-directory format (``docs/scenarios.md``) it can join the test corpus and be
re-graded after every change to the rules, without root or a lab.

The metrics are the lab Prometheus' raw samples (a range-vector query over the run, which
returns every scraped sample with its timestamp) written as OpenMetrics with timestamps in
seconds and ``# EOF``: what ``promtool tsdb create-blocks-from openmetrics`` backfills and
``rca collect --metrics-file`` reads. ``expected.json`` takes its incident from the
injection window (the failed requests span it: ``start``/``end`` are the first and last
failed client request inside it, widened to the window when none failed).
"""

from __future__ import annotations

import json
import math
import shutil
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["export_openmetrics", "openmetrics_lines", "write_scenario_dir"]

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def export_openmetrics(prometheus: str, start: float, end: float,
                       selector: str = '{job="node-exporter"}') -> str:
    """Every raw sample of ``selector`` between ``start`` and ``end`` as OpenMetrics."""
    seconds = max(int(math.ceil(end - start)), 1)
    query = urllib.parse.urlencode({"query": f"{selector}[{seconds}s]", "time": f"{end:.3f}"})
    with _NO_PROXY.open(f"{prometheus}/api/v1/query?{query}", timeout=30) as resp:
        data = json.load(resp)
    if data.get("status") != "success" or data["data"]["resultType"] != "matrix":
        raise ValueError(f"unexpected answer from {prometheus}: {str(data)[:200]}")
    return "".join(openmetrics_lines(data["data"]["result"]))


def openmetrics_lines(series: list[dict]):
    """Prometheus API matrix -> OpenMetrics sample lines (sorted by name), then ``# EOF``."""
    for item in sorted(series, key=lambda s: sorted(s["metric"].items())):
        labels = {k: v for k, v in item["metric"].items() if k != "__name__"}
        text = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
        head = item["metric"]["__name__"] + (f"{{{text}}}" if text else "")
        for ts, value in item["values"]:
            yield f"{head} {value} {float(ts):.3f}\n"
    yield "# EOF\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def write_scenario_dir(target: Path, workdir: Path, metrics: str, window: tuple[str, str],
                       fault: tuple[float, float] | None, cause: str | None,
                       also: tuple[str, ...], analysis: dict | None = None) -> Path:
    """``target``/{logs,kube,metrics,expected.json} from one run's ``workdir``."""
    if target.exists():
        shutil.rmtree(target)
    (target / "metrics").mkdir(parents=True)
    shutil.copytree(workdir / "logs", target / "logs")
    shutil.copytree(workdir / "kube", target / "kube")
    (target / "metrics" / "node-exporter.om").write_text(metrics, encoding="utf-8")
    if (workdir / "rca.yaml").exists():  # the run's time-resolution settings
        shutil.copy2(workdir / "rca.yaml", target / "rca.yaml")
    incidents = []
    if fault is not None and cause:
        start, end = _failed_span(workdir / "logs", fault)
        incidents.append({"start": start, "end": end, "cause": cause, "also": list(also)})
    expected = {"window": {"since": window[0], "until": window[1]}, "tz": "UTC",
                "incidents": incidents,
                "notes": {"source": "rca lab", "fault_window": [_iso(t) for t in fault]
                          if fault else None,
                          "lab_top_cause": _top(analysis)}}
    (target / "expected.json").write_text(json.dumps(expected, indent=2) + "\n",
                                          encoding="utf-8")
    return target


def _failed_span(logs: Path, fault: tuple[float, float]) -> tuple[str, str]:
    """First and last failed client request started within the injection window."""
    times = []
    for path in sorted(logs.glob("client-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            status = str(row.get("status"))
            if status in ("timeout", "error") or status[:1] in ("4", "5"):
                end = datetime.fromisoformat(row["ts"]).timestamp()
                begun = end - float(row["latency_ms"]) / 1000.0
                if fault[0] <= begun <= fault[1]:
                    times.append((begun, end))
    if not times:
        return _iso(fault[0]), _iso(fault[1])
    return _iso(min(t[0] for t in times)), _iso(max(t[1] for t in times))


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def _top(analysis: dict | None) -> list[str]:
    if not analysis:
        return []
    return [inc["causes"][0]["id"] if inc["causes"] else "" for inc in analysis["incidents"]]
