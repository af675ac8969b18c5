"""Each cause whose verdict is not one signal against a threshold draws its own chart —
what it judged, the incident shaded, the edge it judged by dashed — checked in headless
Chromium on a day where that cause ranks first, collected and reported as a user runs it.

Why a real day and a real browser: the chart's data comes from the cause's judgement on
collected telemetry, and only a browser proves the page carries it decoded and escaped.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest

from rca.cli import main
from rca.replay import builtin, generate
from rca.report import render_report, write_report
from tests.integration.test_report_chromium import INJECTED, _chromium
from tests.scenarios.infra import SCENARIOS as INFRA
from tests.test_kube_scenarios import _analyse

pytestmark = pytest.mark.integration

#: (cause, a day where it ranks first, what its chart's threshold line says)
DAYS = [
    ("probe.timeout_too_tight", INFRA["probe-rgw-with-logs"], "liveness timeoutSeconds="),
    # seed 001 has no request logs: the driver's link use against its edge, kills marked
    ("probe.timeout_too_tight", lambda: builtin("rgw-probe-storm"), "driver edge 0.8"),
    ("scheduling.gpu_fragmentation", lambda: builtin("gpu-fragmentation"),
     "largest pending pod: "),
    ("memory.oom_kill", lambda: builtin("oom-loop"), "memory limit "),
    ("http.body_too_large", lambda: builtin("upload-413"), "body limit 1 MiB"),
    ("lb.dead_backend", lambda: builtin("dead-backend-dev-target"), "even share: "),
]


def _report(spec, tmp: Path, capsys) -> tuple[Path, dict]:
    """The day collected and analysed through the CLI (as ``test_kube_scenarios`` does),
    then reported: (page, JSON result)."""
    result, key = _analyse(generate(spec(), tmp / "day"), tmp, capsys)
    assert main(["report", "--since", key["window"]["since"], "--until",
                 key["window"]["until"], "--tz", key["tz"], "--store", str(tmp / "store"),
                 "-o", str(tmp / "reports")]) == 0
    return next((tmp / "reports").glob("*.html")), result


def _figures(dom: str) -> list[tuple[str, str]]:
    """(alt text, data URI) of every chart figure the browser built."""
    return [(html.unescape(alt), src) for src, alt in re.findall(
        r'<figure class="chart">\s*<img src="([^"]+)" alt="([^"]*)"', dom)]


@pytest.mark.parametrize("cause, spec, line", DAYS)
def test_cause_ranked_first_draws_its_chart_with_its_threshold(cause, spec, line, tmp_path,
                                                               capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RCA_CONFIG", raising=False)
    page, result = _report(spec, tmp_path, capsys)
    assert cause in [i["causes"][0]["id"] for i in result["incidents"]]
    dom = _chromium(tmp_path, "--dump-dom", page.as_uri()).stdout
    sections = dom.split('<div class="cause">')[1:]
    mine = [s for s in sections if f"<code>{cause}</code>" in s.split("</summary>")[0]]
    assert mine, f"{cause} has no evidence section"
    charts = [f for s in mine for f in _figures(s)]
    assert charts, f"{cause}: no chart on a day where it ranks first"
    alt, uri = charts[0]
    assert line in alt and alt.endswith("drawn"), alt
    png = tmp_path / "chart.png"
    png.write_bytes(base64.b64decode(uri.split(",", 1)[1]))
    rgb = (mpimg.imread(png)[..., :3] * 255).astype(np.int32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    assert ((r > g + 60) & (r > b + 60)).sum() > 100, "the threshold is drawn, dashed red"


def test_chart_labels_from_the_cluster_are_escaped(tmp_path):
    """Node and pod names reach the chart's alt text and caption: shown as text, never
    parsed as markup."""
    chart = {"title": f"GPUs free per node {INJECTED}", "unit": "GPUs", "line": 5.0,
             "line_label": "largest pending pod: 5 GPUs",
             "bars": {"free": {f"node-{INJECTED}": 3.0, "gpu-2": 4.0}}, "series": {},
             "marks": []}
    cause = {"id": "scheduling.gpu_fragmentation", "entity": "pod/ml/train-0", "score": 0.9,
             "status": "ok", "summary": "fits", "fix": "repack", "chart": chart,
             "evidence": [{"supports": True, "text": "x", "start": None, "end": None,
                           "source": "objects", "rows": []}]}
    result = {"incidents": [{"id": "INC-1", "start": "2021-08-23T03:00:00Z",
                             "end": "2021-08-23T03:10:00Z", "scope": {}, "symptoms": {},
                             "causes": [cause]}], "gaps": [],
              "window": {"since": "2021-08-23T00:00:00Z", "until": "2021-08-24T00:00:00Z"}}
    page = write_report(render_report(result, {}, "UTC"), tmp_path / "r.html")
    dom = _chromium(tmp_path, "--dump-dom", page.as_uri()).stdout
    assert "<script" not in dom and "pwned" not in re.search(
        r"<title>(.*?)</title>", dom, re.S).group(1)
    charts = _figures(dom)
    assert len(charts) == 1 and INJECTED in charts[0][0]  # the label, as text
    assert "&lt;script&gt;" in dom.split('<figure class="chart">')[1]
