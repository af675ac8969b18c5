"""The platform World (seeds 001 and 002): real formats, reproducible, apart from the rules."""

import ast
import json
from pathlib import Path

import pandas as pd
import pytest

from rca.collect import Source, collect
from rca.config import load
from rca.replay import builtin, generate
from rca.store import Store
from rca.timeutil import get_zone

REPLAY = Path(__file__).resolve().parents[3] / "rca" / "replay"
RULES = ("rca.causes", "rca.incidents", "rca.config", "rca.measure", "rca.entities")


@pytest.fixture(scope="module")
def days(tmp_path_factory):
    root = tmp_path_factory.mktemp("platform")
    return {n: generate(builtin(n), root / n) for n in ("rgw-probe-storm", "dataloader-nfs-stall")}


def _files(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_same_spec_gives_byte_identical_files(days, tmp_path):
    again = generate(builtin("rgw-probe-storm"), tmp_path / "again")
    assert _files(again) == _files(days["rgw-probe-storm"])


def test_rgw_day_has_only_kube_and_node_data_as_the_seed(days):
    d = days["rgw-probe-storm"]
    assert not any((d / "logs").iterdir())
    assert [p.name for p in (d / "metrics").glob("*.om")] == ["node.om"]
    items = json.loads((d / "kube" / "cluster.json").read_text())["items"]
    messages = {i["message"] for i in items if i["kind"] == "Event"}
    assert "Container rgw failed liveness probe, will be restarted" in messages
    assert ("Liveness probe failed: Get http://10.42.2.44:80/: net/http: request canceled "
            "(Client.Timeout exceeded while awaiting headers)") in messages
    (rgw,) = [i for i in items if i["kind"] == "Pod" and "rgw" in i["metadata"]["name"]]
    probe = rgw["spec"]["containers"][0]["livenessProbe"]
    assert (probe["timeoutSeconds"], probe["periodSeconds"], probe["failureThreshold"],
            probe["initialDelaySeconds"], probe["httpGet"]["port"]) == (1, 10, 3, 10, 80)
    speeds = [line for line in (d / "metrics" / "node.om").read_text().splitlines()
              if line.startswith('node_network_speed_bytes{device="eth0"')]
    assert speeds and all(" 12500000 " in line for line in speeds)  # 100 Mbit/s, ~10 MB/s


@pytest.mark.parametrize("name", ["rgw-probe-storm", "dataloader-nfs-stall"])
def test_every_file_collects_without_a_malformed_line(days, name, tmp_path):
    d = days[name]
    expected = json.loads((d / "expected.json").read_text())
    sources = ([Source("kube", p) for p in (d / "kube").glob("*.json")]
               + [Source("metrics", p) for p in (d / "metrics").glob("*.om")]
               + [Source("logs", p) for p in (d / "logs").glob("*")])
    summary = collect(Store(tmp_path), sources, pd.Timestamp(expected["window"]["since"]),
                      pd.Timestamp(expected["window"]["until"]), load(None),
                      get_zone(expected["tz"]))
    assert summary.malformed == 0
    assert summary.read.get("events", 0) > 0 and summary.read.get("metrics", 0) > 0
    for path in (d / "metrics").glob("*.om"):
        assert path.read_text().endswith("\n# EOF\n")


def test_the_replay_imports_nothing_from_the_rules():
    for path in REPLAY.glob("*.py"):
        tree = ast.parse(path.read_text())
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert not [m for m in names if m.startswith(RULES)], path.name
