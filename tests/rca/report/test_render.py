"""The HTML report: content, ordering, local times, "no data", escaping, self-containment."""

from __future__ import annotations

import base64
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rca.report import render_report, write_report

EVIL_SERVICE = "<script>alert(1)</script>"
EVIL_TEXT = "probe said <img src=x onerror=alert(2)> then Get http://10.42.2.44:80/"
# UTC instants of the first two 2021-08-23 incidents (local 11:03:01 and 13:29:54, +08:00)
INC1 = ("2021-08-23T03:03:01Z", "2021-08-23T03:06:40Z")
INC2 = ("2021-08-23T05:29:54Z", "2021-08-23T05:31:10Z")


def make_timeline(with_coredns: bool = False) -> dict[str, pd.DataFrame]:
    """A day of client requests on three services (one with a hostile name), timeouts in
    the first incident, and a conntrack signal peaking there."""
    rng = np.random.default_rng(7)
    idx = pd.date_range("2021-08-22T16:00Z", periods=1440, freq="min", tz="UTC")
    services = np.array(["feet", "interior", EVIL_SERVICE])[np.arange(len(idx)) % 3]
    latency = rng.uniform(0.2, 0.6, len(idx))
    status = np.full(len(idx), "200", dtype=object)
    burst = (idx >= pd.Timestamp(INC1[0])) & (idx <= pd.Timestamp(INC1[1]))
    latency[burst], status[burst] = 18.0, "timeout"
    requests = pd.DataFrame({"side": "client", "station": "st-1", "service": services,
                             "latency_s": latency, "status": status}, index=idx)
    conntrack = pd.DataFrame({"entity": "node/worknode1",
                              "value": np.where(burst, 40.0, 1.0)}, index=idx)
    out = {"requests": requests, "signal:conntrack_insert_failed_per_second": conntrack}
    if with_coredns:
        out["coredns_request_p99_seconds"] = pd.DataFrame(
            {"entity": "deployment/kube-system/coredns", "value": 0.01}, index=idx)
    return out


#: What the causes declare they read, as `rca report` passes it from the registry.
CAUSE_SIGNALS = {"dns.resolver_timeout": ("conntrack_insert_failed_per_second",
                                          "coredns_request_p99_seconds")}


def cause(cid: str, score: float, status: str = "ok", evidence=None) -> dict:
    return {"id": cid, "entity": "deployment/kube-system/coredns", "score": score,
            "status": status, "summary": f"summary of {cid}", "evidence": evidence or [],
            "fix": f"fix for {cid}"}


def make_result() -> dict:
    rows = [{"time": f"2021-08-23T03:0{i}:00+00:00", "entity": "node/worknode1",
             "value": 40.0 + i} for i in range(6)]
    dns_evidence = [
        {"supports": True, "text": "conntrack insert_failed 40/s, 40x baseline",
         "start": INC1[0], "end": INC1[1],
         "source": "signal:conntrack_insert_failed_per_second", "rows": rows},
        {"supports": False, "text": EVIL_TEXT, "start": None, "end": None,
         "source": "events", "rows": []},
    ]
    # Causes in the engine's ranking (the engine ranks, the report keeps its order).
    first = {"id": "INC-20210823-0303", "start": INC1[0], "end": INC1[1],
             "scope": {"stations": ["st-1", "st-2"], "services": ["feet", EVIL_SERVICE],
                       "nodes": ["worknode1"]},
             "symptoms": {"failed_requests": 12, "latency_p50_s": 18.2, "latency_max_s": 31.0,
                          "server_latency_p99_s": 0.58},
             "causes": [cause("dns.resolver_timeout", 0.86, evidence=dns_evidence),
                        cause("net.saturation", 0.41),
                        cause("app.slow_response", 0.12),
                        cause("coredns.metrics", 0.0, status="no_data")]}
    second = {"id": "INC-20210823-0529", "start": INC2[0], "end": INC2[1],
              "scope": {"services": ["interior"]}, "symptoms": {"failed_requests": 5},
              "causes": [cause("dns.resolver_timeout", 0.25)],
              "unexplained": "no cause is convincing (best: dns.resolver_timeout 0.25)",
              "suspects": [{"entity": "node/w1", "series": EVIL_TEXT, "change": "0 → 3",
                            "score": 41.5}]}
    return {"incidents": [first, second],
            "gaps": [{"source": "metrics", "message": "no CoreDNS metrics collected"}],
            "window": {"since": "2021-08-23T00:00:00+08:00", "until": "2021-08-24T00:00:00+08:00"},
            "tz": "Asia/Shanghai", "context": "default",
            "collection": {"tables": {"requests": 8760, "events": 0},
                           "malformed": {"logs/x.jsonl": 2}}}


@pytest.fixture(scope="module")
def page() -> str:
    return render_report(make_result(), make_timeline(), "Asia/Shanghai",
                         cause_signals=CAUSE_SIGNALS)


class _Refs(HTMLParser):
    """Every element, and every URL-bearing attribute, as the browser would parse them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.refs: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "srcset", "action", "poster", "data", "background"):
                self.refs.append((tag, name, value or ""))


def _parse(html: str) -> _Refs:
    parser = _Refs()
    parser.feed(html)
    return parser


def test_every_incident_id_is_on_the_page(page):
    assert "INC-20210823-0303" in page and "INC-20210823-0529" in page


def test_causes_keep_the_engines_ranking():
    result = make_result()
    result["incidents"][0]["causes"].reverse()  # whatever order the engine gives
    html = render_report(result, {}, "UTC")
    table = html.split('id="inc-1"')[1].split('class="causes"')[1].split("</table>")[0]
    ids = [c["id"] for c in result["incidents"][0]["causes"]]
    positions = [table.index(f"<code>{cid}</code>") for cid in ids]
    assert positions == sorted(positions)


def test_signal_panels_follow_the_top_causes_declared_needs():
    html = render_report(make_result(), {}, "UTC",
                         cause_signals={"dns.resolver_timeout": ("made_up_per_second",)})
    caption = re.search(r"<figcaption>.*?</figcaption>", html, re.S).group(0)
    assert "made_up_per_second" in caption  # absent, so a "no data" panel
    html = render_report(make_result(), {}, "UTC", cause_signals={})
    caption = re.search(r"<figcaption>.*?</figcaption>", html, re.S).group(0)
    assert "made_up_per_second" not in caption


def test_failure_heatmap_by_station(page):
    assert "Heatmap of failed requests: 1 station(s)" in page
    assert "Heatmap" not in render_report(make_result(), {}, "UTC")  # nothing failed: none


def test_times_are_shown_in_the_users_zone(page):
    assert "2021-08-23 11:03:01 – 11:06:40 +08:00" in page  # the incident, UTC+8
    assert "13:29:54" in page
    assert "03:03:01" not in page  # the UTC clock never leaks into the display
    assert "2021-08-23 11:05:00 +08:00" in page  # evidence row times too


def test_missing_signal_says_no_data(page):
    caption = re.search(r"<figcaption>.*?</figcaption>", page, re.S).group(0)
    assert "No data" in caption and "coredns_request_p99_seconds" in caption
    assert "conntrack_insert_failed_per_second" not in caption  # it was collected


def test_no_data_disappears_when_the_signal_is_collected():
    html = render_report(make_result(), make_timeline(with_coredns=True), "Asia/Shanghai",
                         cause_signals=CAUSE_SIGNALS)
    caption = re.search(r"<figcaption>.*?</figcaption>", html, re.S).group(0)
    assert "coredns_request_p99_seconds" not in caption


def test_input_text_is_escaped(page):
    assert EVIL_SERVICE not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(2)&gt;" in page
    parsed = _parse(page)
    assert "script" not in parsed.tags  # the page needs no JavaScript at all
    assert parsed.tags.count("img") == 4  # day figure, heatmap, two zooms: nothing injected


def test_no_external_resources(page):
    refs = _parse(page).refs
    assert refs, "expected the figures and anchors to be found"
    for tag, name, value in refs:
        assert value.startswith(("data:image/png;base64,", "#")), (tag, name, value[:80])
    assert not re.search(r"url\(|@import", page)
    assert "http://10.42.2.44:80/" in page  # the URL in evidence stays, as text


def test_figures_are_embedded_pngs(page):
    uris = [v for tag, _, v in _parse(page).refs if tag == "img"]
    for uri in uris:
        png = base64.b64decode(uri.removeprefix("data:image/png;base64,"), validate=True)
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000


def test_evidence_for_and_against_are_distinct_and_rows_capped():
    html = render_report(make_result(), make_timeline(), "UTC", max_evidence_rows=4)
    assert html.count('class="ev ev-for"') == 1 and html.count('class="ev ev-against"') == 1
    assert "and 2 more rows not shown" in html
    assert "fix for dns.resolver_timeout" in html


def test_header_shows_context_collection_and_gaps(page):
    assert re.search(r'class="name">default<', page)
    assert "8,760" in page and "logs/x.jsonl" in page
    assert "no CoreDNS metrics collected" in page
    assert "coredns.metrics" in page.split("What we could not check")[1]


def test_a_dev_context_is_flagged():
    result = make_result() | {"context": "dev-cluster"}
    assert 'class="ctx warn"' in render_report(result, {}, "Asia/Shanghai")


def test_empty_input_still_renders_and_says_so():
    html = render_report({}, {}, "UTC")
    assert "No incidents found" in html
    assert "No data" in html


def test_window_without_any_timeline_draws_no_data_panels():
    html = render_report({"window": make_result()["window"]}, {}, "Asia/Shanghai",
                         cause_signals=CAUSE_SIGNALS)
    caption = re.search(r"<figcaption>.*?</figcaption>", html, re.S).group(0)
    assert "requests" in caption and "conntrack_insert_failed_per_second" in caption


def test_names_matplotlib_would_interpret_render_literally():
    timeline = make_timeline()
    timeline["requests"]["service"] = ["$x_1$", "_hidden", "$"] * 480
    assert "INC-20210823-0303" in render_report(make_result(), timeline, "Asia/Shanghai")


def test_write_report_replaces_atomically(tmp_path, monkeypatch):
    target = tmp_path / "out" / "report.html"
    seen = {}
    real_replace = os.replace

    def spy(src, dst):
        seen["tmp"] = Path(src).read_text(encoding="utf-8")
        seen["target_existed"] = Path(dst).exists()
        seen["same_dir"] = Path(src).parent == Path(dst).parent
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    assert write_report("<html>new</html>", target) == target
    assert seen == {"tmp": "<html>new</html>", "target_existed": False, "same_dir": True}
    assert target.read_text(encoding="utf-8") == "<html>new</html>"
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]


def test_write_report_failure_keeps_the_old_page(tmp_path, monkeypatch):
    target = tmp_path / "report.html"
    target.write_text("old", encoding="utf-8")

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        write_report("new", target)
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temp file left


def test_unexplained_incident_says_so_and_lists_its_suspects(page):
    assert "Unexplained:</b> no cause is convincing (best: dns.resolver_timeout 0.25)" in page
    suspects = page.split("rule-free suspects", 1)[1].split("</table>", 1)[0]
    assert "node/w1" in suspects and "41.5" in suspects
    assert page.count("Unexplained:") == 1  # the explained incident does not say it


def test_zoom_draws_the_top_causes_threshold_on_its_signal():
    lines = {"dns.resolver_timeout": {"conntrack_insert_failed_per_second": 35.0}}
    html = render_report(make_result(), make_timeline(), "UTC", cause_signals=CAUSE_SIGNALS,
                         cause_lines=lines)
    zoom = html.split('id="inc-1"')[1]
    assert "conntrack_insert_failed_per_second (threshold 35 drawn)" in zoom
    # a cause that is not among the incident's top ones draws nothing
    other = {"made.up": {"conntrack_insert_failed_per_second": 35.0}}
    html = render_report(make_result(), make_timeline(), "UTC", cause_signals=CAUSE_SIGNALS,
                         cause_lines=other)
    assert "threshold 35 drawn" not in html


def _with_charts(result: dict) -> dict:
    """The first incident's causes carrying charts: one a top cause, one ranked third."""
    series = {"slowest request": [[f"2021-08-23T03:0{i}:00+00:00", 0.4 + i] for i in range(6)]}
    causes = result["incidents"][0]["causes"]
    causes[0]["chart"] = {"title": "probe vs latency", "unit": "seconds", "line": 1.0,
                          "line_label": "liveness timeoutSeconds=1", "series": series,
                          "bars": {}, "marks": [["2021-08-23T03:04:00+00:00", "kill"]]}
    causes[2]["chart"] = {"title": "not a top cause", "unit": "", "line": None,
                          "line_label": "", "series": series, "bars": {}, "marks": []}
    return result


def test_a_top_cause_chart_is_drawn_beside_its_evidence_with_its_line():
    html = render_report(_with_charts(make_result()), make_timeline(), "UTC")
    charts = re.findall(r'<figure class="chart">\s*<img src="data:image/png;base64,([^"]+)" '
                        r'alt="([^"]*)"', html)
    assert [alt for _, alt in charts] == [
        "probe vs latency: slowest request; liveness timeoutSeconds=1 drawn"]
    assert base64.b64decode(charts[0][0])[:8] == b"\x89PNG\r\n\x1a\n"
    section = html.split("<code>dns.resolver_timeout</code> · evidence")[1].split("</details>")[0]
    assert 'class="chart"' in section  # inside the cause's own evidence
    assert "not a top cause" not in html


def test_a_chart_with_nothing_to_draw_is_left_out():
    result = _with_charts(make_result())
    result["incidents"][0]["causes"][0]["chart"]["series"] = {"slowest request": []}
    assert 'class="chart"' not in render_report(result, make_timeline(), "UTC")
