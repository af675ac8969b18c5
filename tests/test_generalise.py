"""The rules read the data, not the replay: another site, zone, names, rates and burst
shapes, run through ``rca daily`` for yesterday. Nothing here is the 2021-08-23 day."""

import json
from dataclasses import replace

import pandas as pd

from rca.cli import main
from rca.replay import generate
from rca.replay.spec import Burst, Node, Noise, ScenarioSpec, Service, Station, Traffic

ZONE = "America/Sao_Paulo"


def _other_site(since: pd.Timestamp, until: pd.Timestamp) -> ScenarioSpec:
    services = (Service("ocr-labels", "172.16.3.40"), Service("weld-check", "172.16.3.41"),
                Service("paint-defects", "172.16.3.42"))
    stations = (Station("line-a", "192.168.7.11", ("ocr-labels", "weld-check")),
                Station("line-b", "192.168.7.12", ("weld-check", "paint-defects")),
                Station("line-c", "192.168.7.13", ("paint-defects", "ocr-labels")))
    nodes = (Node("cp-0", "192.168.0.2", 8, "master", 32),
             Node("gpu-worker-3", "192.168.0.13", 32, "inference", 128),
             Node("batch-7", "192.168.0.17", 32, "worker", 128))
    day = since.strftime("%Y-%m-%d")
    bursts = (
        Burst(f"{day}T09:41:07", ("ocr-labels", "weld-check", "paint-defects"), 9, 120.0),
        Burst(f"{day}T17:12:30", ("weld-check", "paint-defects"), 15, 240.0,
              mechanism="slow_app", label="app.slow_response"),
    )
    return ScenarioSpec(
        name="other-site", seed=7, zone=ZONE,
        since=since.strftime("%Y-%m-%dT%H:%M:%S"), until=until.strftime("%Y-%m-%dT%H:%M:%S"),
        stations=stations, services=services, nodes=nodes, bursts=bursts,
        namespace="vision", traffic=Traffic(requests_per_hour=900.0, production_hours=(6, 22)),
        noise=replace(Noise(), http_400=20, isolated_timeouts=6, reboot_node="batch-7",
                      reboot_at=f"{day}T02:15:00"),
    )


def test_daily_on_another_site_ranks_each_burst_by_what_its_data_says(tmp_path, capsys,
                                                                      monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RCA_CONFIG", raising=False)
    today = pd.Timestamp.now(tz=ZONE).normalize()
    yesterday = today - pd.Timedelta(days=1)
    spec = _other_site(yesterday.tz_localize(None), today.tz_localize(None))
    scen = generate(spec, tmp_path / "scenario")
    sources = ["--kube", str(scen / "kube" / "cluster.json"), "--logs", str(scen / "logs" / "*")]
    for om in sorted((scen / "metrics").glob("*.om")):
        sources += ["--metrics-file", str(om)]
    store = str(tmp_path / "store")
    assert main(["daily", "--store", store, "--tz", ZONE, "-o", str(tmp_path / "rep"),
                 *sources]) == 0
    assert (tmp_path / "rep" / f"{yesterday.date()}.html").exists()
    capsys.readouterr()
    assert main(["analyze", "--store", store, "--tz", ZONE, "-o", "json",
                 "--since", yesterday.isoformat(), "--until", today.isoformat()]) == 0
    result = json.loads(capsys.readouterr().out)
    expected = json.loads((scen / "expected.json").read_text())["incidents"]
    assert len(result["incidents"]) == len(expected) == 2
    for inc, exp in zip(result["incidents"], expected, strict=True):
        overlap = (pd.Timestamp(inc["start"]) <= pd.Timestamp(exp["end"])
                   and pd.Timestamp(exp["start"]) <= pd.Timestamp(inc["end"]))
        assert overlap, (inc["start"], inc["end"], exp)
        assert inc["causes"][0]["id"] == exp["cause"], (exp["cause"], inc["causes"][:2])
