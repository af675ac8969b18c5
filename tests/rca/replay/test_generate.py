"""The replay generator: deterministic, in the real formats, and faithful to MISSION 000.

Every check reads the written files the way a parser would (never the generator's own
objects), so a format slip or a story that the sources disagree on fails here first.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from rca.replay import BUILTINS, builtin, generate
from rca.replay.spec import ScenarioSpec

REPLAY_DIR = Path(__file__).resolve().parents[3] / "rca" / "replay"
INGRESS = re.compile(
    r'(?P<ip>\d+\.\d+\.\d+\.\d+) - - \[(?P<time>\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] '
    r'"POST /\S* HTTP/1\.1" (?P<status>\d{3}) (?P<body>\d+) "-" "[^"]+" \d+ '
    r"(?P<rt>\d+\.\d{3}) \[(?P<upstream>[a-z0-9-]+-\d+)\] \[\] \d+\.\d+\.\d+\.\d+:\d+ \d+ "
    r"\d+\.\d{3} \d{3} (?P<rid>[0-9a-f]{32})"
)
COREDNS_QUERY = re.compile(
    r"(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) \[INFO\] (?P<ip>[\d.]+):(?P<port>\d+) - "
    r'(?P<id>\d+) "(?P<type>A|AAAA) IN \S+\. udp \d+ false 512" NOERROR qr,aa,rd \d+ '
    r"(?P<dur>\d+(?:\.\d+)?)s"
)
COREDNS_OTHER = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z \[INFO\] (Reloading|plugin/)")
OM_SAMPLE = re.compile(r"([a-zA-Z_:][\w:]*)\{([^}]*)\} (\S+) (\d+)")
MIN = timedelta(minutes=1)


@pytest.fixture(scope="module")
def days(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("replay")
    # the inference-station days; other Worlds (seeds 001-004) have their own tests
    return {name: generate(spec, root / name) for name in BUILTINS
            if isinstance(spec := builtin(name), ScenarioSpec)}


def expected(d: Path) -> dict:
    return json.loads((d / "expected.json").read_text())


def station_rows(d: Path) -> tuple[list[dict], dict[str, int]]:
    rows, bad = [], {}
    for f in sorted((d / "logs").glob("station-*.jsonl")):
        for line in f.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                key = f"logs/{f.name}"
                bad[key] = bad.get(key, 0) + 1
                continue
            row["start"] = datetime.fromisoformat(row["ts"])
            row["end"] = row["start"] + timedelta(milliseconds=row["latency_ms"])
            rows.append(row)
    return rows, bad


def incidents(d: Path) -> list[tuple[datetime, datetime]]:
    return [(datetime.fromisoformat(i["start"]).replace(tzinfo=None),
             datetime.fromisoformat(i["end"]).replace(tzinfo=None))
            for i in expected(d)["incidents"]]


def metrics(path: Path) -> tuple[list[str], dict[tuple[str, str], list[tuple[int, float]]]]:
    """(family of every sample line in order, series -> [(stamp, value)])."""
    families, series, family = [], {}, None
    for line in path.read_text().splitlines():
        if line.startswith("# TYPE"):
            family = line.split()[2]
        elif not line.startswith("#"):
            name, lab, value, stamp = OM_SAMPLE.fullmatch(line).groups()
            families.append(family)
            series.setdefault((name, lab), []).append((int(stamp), float(value)))
    return families, series


def test_same_spec_gives_byte_identical_files(days, tmp_path):
    again = generate(builtin("2021-08-23"), tmp_path / "again")
    files = sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(days["2021-08-23"])
                           for p in days["2021-08-23"].rglob("*") if p.is_file())
    for rel in files:
        assert (again / rel).read_bytes() == (days["2021-08-23"] / rel).read_bytes(), rel
    other = generate(builtin("2021-08-23", seed=7), tmp_path / "other")
    assert (other / "logs/ingress-nginx.log").read_bytes() != (
        again / "logs/ingress-nginx.log").read_bytes()  # the seed is really used


def test_expected_json_has_the_five_incidents_of_the_post_mortem(days):
    doc = expected(days["2021-08-23"])
    assert doc["window"] == {"since": "2021-08-23T00:00:00+08:00",
                             "until": "2021-08-24T00:00:00+08:00"}
    assert doc["tz"] == "Asia/Shanghai"
    starts = [datetime.fromisoformat(i["start"]) for i in doc["incidents"]]
    assert [s.strftime("%H:%M:%S") for s in starts][1:] == [
        "13:29:54", "14:35:04", "15:54:43", "16:03:46"]
    assert starts[0].strftime("%H:%M") == "11:03"
    assert all(s.utcoffset() == timedelta(hours=8) for s in starts)
    for inc in doc["incidents"]:
        assert inc["cause"] == "dns.resolver_timeout" and inc["also"] == []
        assert set(inc) == {"start", "end", "cause", "also"}


def test_incidents_match_the_station_logs_and_the_mission_figures(days):
    rows, _ = station_rows(days["2021-08-23"])
    timeouts = [r for r in rows if r["status"] == "timeout"]
    hit_services = []
    for start, end in incidents(days["2021-08-23"]):
        inside = [r for r in timeouts if start <= r["start"] <= end]
        assert 5 <= len(inside) <= 20
        assert min(r["start"] for r in inside) == start  # start = first failed request
        assert abs(max(r["end"] for r in inside) - end) < timedelta(milliseconds=2)
        assert max(r["start"] for r in inside) - start <= 5 * MIN
        assert all(11_000 <= r["latency_ms"] <= 33_000 for r in inside)
        assert len({r["station"] for r in inside}) >= 1
        hit_services.append({r["service"] for r in inside})
    assert hit_services[1] == {"neishi"}
    assert len(hit_services[2]) == 6
    assert hit_services[3] == {"dijiao"}
    assert hit_services[4] == {"dingbu-luosi", "dijiao"}


def test_noise_timeouts_are_isolated_and_400s_are_scattered(days):
    rows, _ = station_rows(days["2021-08-23"])
    spans = incidents(days["2021-08-23"])
    loose = [r for r in rows if r["status"] == "timeout"
             and not any(a <= r["start"] <= b for a, b in spans)]
    assert 1 <= len(loose) <= 6
    failures = [(r["start"], r["end"]) for r in rows if r["status"] != 200]
    for r in loose:
        others = [f for f in failures if f != (r["start"], r["end"])]
        assert all(max(a - r["end"], r["start"] - b) >= 30 * MIN for a, b in others)
    assert 3 <= sum(r["status"] == 400 for r in rows) <= 20


def test_traffic_volume_and_limits(days):
    rows, _ = station_rows(days["2021-08-23"])
    per_hour, per_second = {}, {}
    for r in rows:
        per_hour[r["start"].hour] = per_hour.get(r["start"].hour, 0) + 1
        key = r["start"].replace(microsecond=0)
        per_second[key] = per_second.get(key, 0) + 1
    assert all(300 <= per_hour[h] <= 430 for h in range(8, 20))
    assert all(per_hour[h] < 100 for h in (0, 3, 22))
    assert max(per_second.values()) <= 6
    assert all(3 * 2**20 <= r["bytes"] <= 10 * 2**20 for r in rows)


def test_every_jsonl_line_parses_except_the_announced_malformed_ones(days):
    for d in days.values():
        rows, bad = station_rows(d)
        assert bad == expected(d)["notes"]["malformed_lines"]
        assert sum(bad.values()) in (1, 2)
        assert all(r["side"] == "client" and isinstance(r["latency_ms"], float) for r in rows)
        assert all(isinstance(r["status"], int) or r["status"] == "timeout" for r in rows)


def test_ingress_lines_are_upstreaminfo_and_the_server_stayed_fast(days):
    d = days["2021-08-23"]
    rows, _ = station_rows(d)
    lines = (d / "logs/ingress-nginx.log").read_text().splitlines()
    parsed = [INGRESS.fullmatch(line) for line in lines]
    assert all(parsed), next(line for line, m in zip(lines, parsed, strict=True) if not m)
    assert all(m["time"].endswith("+0800") for m in parsed)
    assert all(m["upstream"].startswith("inference-") for m in parsed)
    by_id = {m["rid"]: m for m in parsed}
    assert {r["request_id"] for r in rows} <= set(by_id)
    timed_out = [by_id[r["request_id"]] for r in rows if r["status"] == "timeout"]
    assert timed_out and all(0.2 <= float(m["rt"]) <= 0.6 for m in timed_out)
    assert all(m["status"] == "200" for m in timed_out)
    assert 3 <= sum(m["status"] == "400" for m in parsed)


def test_coredns_log_shows_5s_retries_only_inside_incidents(days):
    d = days["2021-08-23"]
    lines = (d / "logs/coredns.log").read_text().splitlines()
    queries = [COREDNS_QUERY.fullmatch(line) for line in lines]
    assert all(q or COREDNS_OTHER.match(line) for q, line in zip(queries, lines, strict=True))
    assert 2000 <= len(lines) <= 20000
    sent: dict[tuple[str, str], list[datetime]] = {}
    for q in filter(None, queries):
        at = datetime.fromisoformat(q["ts"][:26]) - timedelta(seconds=float(q["dur"]))
        sent.setdefault((q["ip"], q["port"]), []).append(at + timedelta(hours=8))
    retries = [(ip, b) for (ip, _port), ts in sent.items() for a, b in pairwise(ts)
               if timedelta(seconds=4.9) <= b - a <= timedelta(seconds=5.1)]
    spans = incidents(d)
    assert len(retries) >= 5 * len(spans)
    assert all(any(a <= t <= b for a, b in spans) for _ip, t in retries)
    pods = {"10.244.1.17"}  # 13:29:54 hit only neishi: only its pod retried
    assert {ip for ip, t in retries if spans[1][0] <= t <= spans[1][1]} == pods


def test_openmetrics_files_are_well_formed(days):
    for path in sorted((days["2021-08-23"] / "metrics").glob("*.om")):
        assert path.read_text().endswith("\n# EOF\n")
        families, series = metrics(path)
        runs = [f for i, f in enumerate(families) if i == 0 or families[i - 1] != f]
        assert len(runs) == len(set(runs)), f"{path.name}: a family is split"
        for key, points in series.items():
            stamps = [t for t, _ in points]
            assert all(a < b for a, b in pairwise(stamps)), key
            assert all(b - a in (30, 90, 120) for a, b in pairwise(stamps)), key


def test_metrics_tell_the_dns_story(days):
    d = days["2021-08-23"]
    _, dns = metrics(d / "metrics/coredns.om")
    slow = [pts for (name, lab), pts in dns.items()
            if name.endswith("_bucket") and 'le="2.048"' in lab]
    total = [pts for (name, lab), pts in dns.items() if name.endswith("_bucket") and "+Inf" in lab]
    assert sum(t[-1][1] - s[-1][1] for s, t in zip(slow, total, strict=True)) >= 5  # >= 2 s
    for (name, lab), pts in dns.items():
        if name.endswith(("_bucket", "_count", "_total")):
            assert all(a[1] <= b[1] for a, b in pairwise(pts)), (name, lab)
    _, node = metrics(d / "metrics/node.om")
    failed = node[("node_nf_conntrack_stat_insert_failed",
                   'instance="infer-node1:9100",job="node-exporter"')]
    spans = [(a - timedelta(hours=8), b - timedelta(hours=8)) for a, b in incidents(d)]
    inside = outside = 0.0
    for (_, v0), (t, v1) in pairwise(failed):
        at = datetime.fromtimestamp(t, UTC).replace(tzinfo=None)
        if any(a <= at <= b + MIN for a, b in spans):
            inside += v1 - v0
        else:
            outside += v1 - v0
    assert inside > 2 * outside  # ~30 minutes of bursts outweigh the other 23 hours
    load = [v for _, v in node[("node_load1", 'instance="infer-node1:9100",job="node-exporter"')]]
    assert 0.25 * 48 <= min(load) and max(load) <= 0.5 * 48 + 20
    rx = [v for _, v in node[("node_network_receive_bytes_total",
                              'instance="train-node1:9100",job="node-exporter",device="eth0"')]]
    assert sum(b < a for a, b in pairwise(rx)) == 1  # the reboot's counter reset


@pytest.mark.integration
@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_promtool_backfills_the_openmetrics(days, tmp_path):
    for name in ("node.om", "coredns.om"):
        done = subprocess.run(
            ["promtool", "tsdb", "create-blocks-from", "openmetrics",
             str(days["2021-08-23"] / "metrics" / name), str(tmp_path / name)],
            capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr


def test_cluster_list_matches_the_logs(days):
    d = days["2021-08-23"]
    doc = json.loads((d / "kube/cluster.json").read_text())
    assert doc["kind"] == "List" and doc["apiVersion"] == "v1"
    kinds = {}
    for item in doc["items"]:
        kinds.setdefault(item["kind"], []).append(item)
        assert item["metadata"]["uid"] and item["metadata"]["creationTimestamp"]
    (coredns,) = [x for x in kinds["Deployment"] if x["metadata"]["name"] == "coredns"]
    assert coredns["metadata"]["namespace"] == "kube-system"
    assert coredns["spec"]["replicas"] == 1 and coredns["status"]["readyReplicas"] == 1
    assert sum(x["metadata"]["namespace"] == "inference" for x in kinds["Deployment"]) == 6
    node = next(x for x in kinds["Node"] if x["metadata"]["name"] == "infer-node1")
    assert node["status"]["capacity"]["cpu"] == "48"
    pods = {x["status"]["podIP"]: x for x in kinds["Pod"]}
    clients = {q["ip"] for q in map(COREDNS_QUERY.match,
                                    (d / "logs/coredns.log").read_text().splitlines()) if q}
    assert clients <= set(pods)
    dns_pod = next(x for x in kinds["Pod"] if x["metadata"]["name"].startswith("coredns-"))
    probes = dns_pod["spec"]["containers"][0]
    assert probes["livenessProbe"]["httpGet"]["path"] == "/health" and probes["readinessProbe"]
    spans = [(a - timedelta(hours=8), b - timedelta(hours=8)) for a, b in incidents(d)]
    warnings = [e for e in kinds["Event"] if e["type"] == "Warning"]
    assert warnings
    for e in kinds["Event"]:
        assert {"involvedObject", "firstTimestamp", "lastTimestamp", "count", "reason",
                "message", "source"} <= set(e)
    for e in warnings:
        at = datetime.fromisoformat(e["firstTimestamp"].rstrip("Z"))
        assert all(abs(at - a) >= timedelta(hours=1) for a, _ in spans), e["reason"]


def test_quiet_day_has_no_timeouts(days):
    d = days["quiet"]
    assert expected(d)["incidents"] == []
    rows, _ = station_rows(d)
    assert rows and not any(r["status"] == "timeout" for r in rows)
    for path in (d / "logs").glob("station-*.jsonl"):
        assert '"timeout"' not in path.read_text()


def test_decoy_is_slow_on_the_server_too(days):
    d = days["decoy-app-slow"]
    (inc,) = expected(d)["incidents"]
    assert inc["cause"] == "app.slow_response" and inc["also"] == []
    rows, _ = station_rows(d)
    start, end = incidents(d)[0]
    failed = [r for r in rows if r["status"] == "timeout" and start <= r["start"] <= end]
    assert len({r["service"] for r in failed}) == 1 and len(failed) >= 5
    parsed = {m["rid"]: m for m in map(INGRESS.fullmatch,
                                       (d / "logs/ingress-nginx.log").read_text().splitlines())}
    assert all(6.0 <= float(parsed[r["request_id"]]["rt"]) <= 15.0 for r in failed)
    doc = json.loads((d / "kube/cluster.json").read_text())
    (coredns,) = [x for x in doc["items"]
                  if x["kind"] == "Deployment" and x["metadata"]["name"] == "coredns"]
    assert coredns["spec"]["replicas"] == 2


def test_other_names_and_zones_flow_through(tmp_path):
    base = builtin("2021-08-23")
    spec = replace(base, zone="Europe/Berlin", since="2021-03-27T12:00:00",
                   until="2021-03-28T12:00:00",  # across the spring DST change
                   stations=tuple(replace(s, name=f"line-{s.name}") for s in base.stations),
                   bursts=(replace(base.bursts[0], at="2021-03-27T15:10:05"),),
                   noise=replace(base.noise, reboot_at="2021-03-28T05:00:00"))
    d = generate(spec, tmp_path / "berlin")
    doc = expected(d)
    assert doc["window"] == {"since": "2021-03-27T12:00:00+01:00",
                             "until": "2021-03-28T12:00:00+02:00"}
    assert doc["incidents"][0]["start"].startswith("2021-03-27T15:10:05.")
    assert (d / "logs/station-line-gw01.jsonl").exists()
    lines = (d / "logs/ingress-nginx.log").read_text().splitlines()
    times = [INGRESS.fullmatch(x)["time"] for x in lines]
    assert {t[-5:] for t in times} == {"+0100", "+0200"}


def test_builtins_and_bad_specs():
    assert BUILTINS[:3] == ("2021-08-23", "decoy-app-slow", "quiet")
    assert {"upload-413", "gpu-fragmentation", "dead-backend-dev-target",
            "oom-loop"} <= set(BUILTINS)
    assert {"rgw-probe-storm", "dataloader-nfs-stall"} <= set(BUILTINS)
    with pytest.raises(ValueError, match="unknown scenario"):
        builtin("2021-08-24")
    base = builtin("2021-08-23")
    with pytest.raises(ValueError, match="burst"):
        replace(base, bursts=(replace(base.bursts[0], services=("nosuch",)),))


def test_generator_never_imports_the_analysis():
    for path in REPLAY_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom | ast.Import):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [
                    a.name for a in node.names]
                assert all(not n.startswith(("rca.", "collectors")) or
                           n.startswith("rca.replay") for n in names), (path.name, names)


def test_full_day_is_small_and_fast(tmp_path):
    began = time.perf_counter()
    d = generate(builtin("2021-08-23"), tmp_path / "day")
    assert time.perf_counter() - began < 10.0
    assert sum(p.stat().st_size for p in d.rglob("*") if p.is_file()) < 30 * 2**20
