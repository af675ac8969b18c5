"""The report in a real browser: headless Chromium parses the page, must not run injected
script, and must decode the embedded figures.

Why a browser and not only string checks: escaping bugs and broken data URIs are only
certain once a real HTML parser and image decoder have seen the page.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from rca.report import render_report, write_report

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
INJECTED = "<script>document.title='pwned'</script>"
CAUSES = ("dns.resolver_timeout", "net.saturation", "app.slow_response")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")


def _result() -> dict:
    causes = [
        {"id": cid, "entity": "deployment/kube-system/coredns", "score": score,
         "status": "ok", "summary": f"{cid} summary", "fix": "add replicas",
         "evidence": [{"supports": True, "text": f"{INJECTED} evidence", "start": None,
                       "end": None, "source": "requests",
                       "rows": [{"service": INJECTED, "latency_s": 18.2}]}]}
        for cid, score in zip(CAUSES, (0.86, 0.4, 0.2), strict=True)  # the engine's ranking
    ]
    return {"incidents": [{"id": "INC-20210823-0303", "start": "2021-08-23T03:03:01Z",
                           "end": "2021-08-23T03:06:40Z",
                           "scope": {"services": [INJECTED, "feet"]},
                           "symptoms": {"failed_requests": 12}, "causes": causes}],
            "gaps": [], "context": "default",
            "window": {"since": "2021-08-23T00:00:00+08:00",
                       "until": "2021-08-24T00:00:00+08:00"}}


def _timeline() -> dict[str, pd.DataFrame]:
    idx = pd.date_range("2021-08-22T16:00Z", periods=1440, freq="min", tz="UTC")
    rng = np.random.default_rng(1)
    latency = rng.uniform(0.2, 0.6, len(idx))
    burst = (idx >= "2021-08-23T03:03Z") & (idx <= "2021-08-23T03:07Z")
    latency[burst] = 20.0
    requests = pd.DataFrame({
        "side": "client", "station": np.array(["st-1", "st-2"])[np.arange(1440) % 2],
        "service": np.array([INJECTED, "feet", "top-screw"])[np.arange(1440) % 3],
        "latency_s": latency, "status": np.where(burst, "timeout", "200")}, index=idx)
    signal = pd.DataFrame({"entity": "node/worknode1", "value": np.where(burst, 30.0, 1.0)},
                          index=idx)
    return {"requests": requests, "conntrack_insert_failed_per_second": signal}


def _chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"chromium not found at {CHROMIUM}: run `make test`, which installs it")
    done = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp / 'profile'}", *args],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"chromium exited {done.returncode}: {done.stderr[-2000:]}"
    return done


def _chromatic_colours(png: Path) -> int:
    """Distinct clearly-coloured pixels values: text and borders are grey, plots are not."""
    rgb = (mpimg.imread(png)[..., :3] * 255).astype(np.int32)
    spread = rgb.max(axis=-1) - rgb.min(axis=-1)
    return len(np.unique(rgb[spread > 40].reshape(-1, 3), axis=0))


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.html"
    return write_report(render_report(_result(), _timeline(), "Asia/Shanghai"), path)


def test_dom_has_incident_and_ranked_causes_and_no_injected_script(page):
    dom = _chromium(page.parent, "--dump-dom", page.as_uri()).stdout
    assert "INC-20210823-0303" in dom
    table = dom.split('class="causes"')[1].split("</table>")[0]
    rows = re.findall(r"<tr[^>]*>.*?</tr>", table, re.S)
    assert len(rows) == 1 + len(CAUSES)  # header + one row per cause
    positions = [table.index(f"<code>{c}</code>") for c in CAUSES]  # kept as ranked
    assert positions == sorted(positions)
    title = re.search(r"<title>(.*?)</title>", dom, re.S).group(1)
    assert "pwned" not in title
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;" in dom  # shown, as text
    assert "<script" not in dom  # and the parser built no script element from it
    assert "Heatmap of failed requests: 2 station(s)" in dom  # the alarm chart is there


def test_figures_decode_in_the_browser(page, tmp_path):
    shot = tmp_path / "shot.png"
    _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", page.as_uri())
    assert shot.exists() and shot.stat().st_size > 50_000
    # Control: the same page with its images broken. Only decoded figures add colour.
    broken = tmp_path / "broken.html"
    broken.write_text(re.sub(r'src="data:image/png;base64,[^"]+"', 'src="data:image/png;base64,AA"',
                             page.read_text(encoding="utf-8")), encoding="utf-8")
    control = tmp_path / "control.png"
    _chromium(tmp_path, f"--screenshot={control}", "--window-size=1280,2000", broken.as_uri())
    with_figures, without = _chromatic_colours(shot), _chromatic_colours(control)
    assert with_figures > 1000 and with_figures > 3 * without, (with_figures, without)
