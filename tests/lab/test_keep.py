"""--keep: OpenMetrics export and the scenario directory's answer key."""

import json
from datetime import UTC, datetime

from collectors.base import ParseContext
from collectors.metrics_file import read_metrics_file
from rca.lab.keep import openmetrics_lines, write_scenario_dir
from rca.timeutil import get_zone

MATRIX = [
    {"metric": {"__name__": "node_load1", "instance": "10.213.1.3:9100",
                "job": "node-exporter", "node": "infer-node"},
     "values": [[1764545100.123, "0.5"], [1764545102.123, "0.75"]]},
    {"metric": {"__name__": "node_network_receive_bytes_total", "device": "eth0",
                "node": "infer-node"},
     "values": [[1764545100.0, "1000"]]},
]


def test_openmetrics_export_is_read_back_with_its_times_and_node(tmp_path):
    path = tmp_path / "m.om"
    path.write_text("".join(openmetrics_lines(MATRIX)))
    assert path.read_text().endswith("\n# EOF\n")
    batch = read_metrics_file(path, ParseContext(str(path), get_zone("UTC")))
    assert batch.malformed == 0
    df = batch.frames["metrics"]
    assert len(df) == 3 and set(df["entity"]) == {"node/infer-node"}
    load = df[df["name"] == "node_load1"]
    assert list(load["value"]) == [0.5, 0.75]
    assert str(load.index[0]) == "2025-11-30 23:25:00.123000+00:00"


def _run_dir(tmp_path):
    work = tmp_path / "run"
    (work / "logs").mkdir(parents=True)
    (work / "kube").mkdir()
    (work / "kube" / "pods.json").write_text('{"kind": "List", "items": []}')
    rows = [  # one failure started inside the fault window, one before it, one success
        {"ts": "2026-11-30T23:39:12.000Z", "status": "timeout", "latency_ms": 5200.0},
        {"ts": "2026-11-30T23:38:50.000Z", "status": "timeout", "latency_ms": 5000.0},
        {"ts": "2026-11-30T23:39:20.000Z", "status": 200, "latency_ms": 400.0},
    ]
    (work / "logs" / "client-station-1.jsonl").write_text(
        "".join(json.dumps({"side": "client", **r}) + "\n" for r in rows))
    return work


def test_expected_json_spans_the_failures_inside_the_fault_window(tmp_path):
    start = datetime(2026, 11, 30, 23, 39, tzinfo=UTC).timestamp()
    fault = (start, start + 25)
    target = write_scenario_dir(tmp_path / "keep" / "dns-drop", _run_dir(tmp_path),
                                "# EOF\n", ("2026-11-30T23:38:30+00:00",
                                            "2026-11-30T23:40:00+00:00"),
                                fault, "dns.resolver_timeout", ())
    expected = json.loads((target / "expected.json").read_text())
    (incident,) = expected["incidents"]
    assert incident == {"start": "2026-11-30T23:39:06+00:00",
                        "end": "2026-11-30T23:39:12+00:00",
                        "cause": "dns.resolver_timeout", "also": []}
    assert expected["tz"] == "UTC" and expected["window"]["since"].endswith("+00:00")
    assert (target / "metrics" / "node-exporter.om").read_text() == "# EOF\n"
    assert (target / "kube" / "pods.json").exists()


def test_a_quiet_run_keeps_an_empty_answer_key(tmp_path):
    target = write_scenario_dir(tmp_path / "k" / "control", _run_dir(tmp_path), "# EOF\n",
                                ("2026-11-30T23:38:30+00:00", "2026-11-30T23:40:00+00:00"),
                                None, None, ())
    assert json.loads((target / "expected.json").read_text())["incidents"] == []
