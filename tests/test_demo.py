"""End to end: the replay's raw telemetry through the same collect/analyze/report a user
runs. The 2021-08-23 day must give its five incidents with dns.resolver_timeout first;
the decoy must not blame DNS; the quiet day must give no incident."""

import json

import pandas as pd

from rca.cli import main


def _run_demo(tmp_path, scenario, capsys):
    work = tmp_path / "work"
    code = main(["demo", "--scenario", scenario, "--workdir", str(work),
                 "--reports", str(tmp_path / "reports"), "-o", "json"])
    assert code == 0
    out = capsys.readouterr().out
    result, _ = json.JSONDecoder().raw_decode(out[out.index('{\n  "incidents"'):])
    expected = json.loads((work / scenario / "expected.json").read_text())
    return result, expected, work


def _overlaps(inc, exp) -> bool:
    a0, a1 = pd.Timestamp(inc["start"]), pd.Timestamp(inc["end"])
    b0, b1 = pd.Timestamp(exp["start"]), pd.Timestamp(exp["end"])
    return a0 <= b1 and b0 <= a1


def test_replay_finds_the_five_incidents_with_dns_first(tmp_path, capsys):
    result, expected, work = _run_demo(tmp_path, "2021-08-23", capsys)
    assert len(expected["incidents"]) == 5
    assert len(result["incidents"]) == 5, [i["start"] for i in result["incidents"]]
    assert {"incidents", "gaps"} <= set(result)
    for inc, exp in zip(result["incidents"], expected["incidents"], strict=True):
        # the JSON contract, kept stable from here on
        assert set(inc) == {"id", "start", "end", "scope", "symptoms", "causes", "suspects",
                            "unexplained"}
        assert inc["unexplained"] == ""  # DNS explains every one of them
        for cause in inc["causes"]:
            assert {"id", "entity", "score", "summary", "evidence", "fix"} <= set(cause)
        assert _overlaps(inc, exp), (inc["start"], exp["start"])
        assert inc["causes"][0]["id"] == "dns.resolver_timeout", inc["causes"][0]
        assert inc["causes"][0]["score"] >= 0.6
        assert inc["start"].endswith("+08:00")
    report = tmp_path / "reports" / "2021-08-23.html"
    assert report.exists() and "INC-" in report.read_text(encoding="utf-8")
    # the malformed lines the replay planted are counted, not dropped silently
    assert sum(result["collection"]["malformed"].values()) >= 1


def test_decoy_app_slow_does_not_blame_dns(tmp_path, capsys):
    result, expected, _ = _run_demo(tmp_path, "decoy-app-slow", capsys)
    assert result["incidents"], "the decoy's burst of timeouts is an incident"
    for inc in result["incidents"]:
        top = inc["causes"][0]
        assert top["id"] != "dns.resolver_timeout", top
        assert top["id"] == expected["incidents"][0]["cause"]
        dns = next(c for c in inc["causes"] if c["id"] == "dns.resolver_timeout")
        assert dns["score"] < 0.5


def test_quiet_day_has_no_incident(tmp_path, capsys):
    result, expected, _ = _run_demo(tmp_path, "quiet", capsys)
    assert expected["incidents"] == []
    assert result["incidents"] == []
    assert result["collection"]["tables"]["requests"] > 1000  # data was there


def test_recollect_does_not_duplicate(tmp_path, capsys):
    _, expected, work = _run_demo(tmp_path, "quiet", capsys)
    from rca.store import Store

    store = Store(work / "store-quiet")
    before = store.tables()
    scen = work / "quiet"
    again = ["collect", "--store", str(store.root), "--since", expected["window"]["since"],
             "--until", expected["window"]["until"], "--tz", expected["tz"], "-o", "json",
             "--kube", str(scen / "kube" / "cluster.json"), "--logs", str(scen / "logs" / "*")]
    for om in sorted((scen / "metrics").glob("*.om")):
        again += ["--metrics-file", str(om)]
    assert main(again) == 0
    summary = json.loads(capsys.readouterr().out)
    assert sum(summary["rows"].values()) > 1000
    assert sum(summary["new_rows"].values()) == 0
    assert store.tables() == before


def test_rgw_day_without_request_logs_ranks_the_probe_first(tmp_path, capsys):
    # seed 001 had only kube and node data: the demo collects no logs and still finds it
    result, expected, work = _run_demo(tmp_path, "rgw-probe-storm", capsys)
    assert not any((work / "rgw-probe-storm" / "logs").iterdir())
    (inc,) = result["incidents"]
    assert _overlaps(inc, expected["incidents"][0])
    top, second = inc["causes"][:2]
    assert top["id"] == "probe.timeout_too_tight"
    assert top["entity"] == "deployment/rook-ceph/rook-ceph-rgw-my-store-a"
    assert "network.saturation" in top["summary"]  # the driver is named
    assert second["id"] == "network.saturation" and second["score"] < top["score"]
    assert "dns.resolver_timeout" not in [c["id"] for c in inc["causes"] if c["score"] > 0]


def test_dataloader_day_names_throttling_then_nfs(tmp_path, capsys):
    result, expected, _ = _run_demo(tmp_path, "dataloader-nfs-stall", capsys)
    assert [i["causes"][0]["id"] for i in result["incidents"]] == [
        e["cause"] for e in expected["incidents"]] == ["cpu.throttling", "storage.io_stall"]
    assert result["incidents"][1]["causes"][0]["entity"] == "node/gpu-node-2"
