"""rca.lab.cadvisor: cAdvisor's families from cgroup figures, and a file node_exporter and
rca's metrics reader both accept."""

import math
from datetime import UTC

from collectors.base import ParseContext
from collectors.metrics_file import read_metrics_file
from rca.lab.cadvisor import FAMILIES, Exporter, Target, render
from rca.lab.cgroups import Cgroup, CgroupStats, Layout


def _stats(**kw):
    base = dict(memory_usage_bytes=100, memory_working_set_bytes=90, memory_limit_bytes=1000,
                memory_failcnt=1, oom_kills=2, cpu_periods=50, cpu_throttled_periods=40,
                cpu_throttled_seconds=1.5, cpu_usage_seconds=math.nan)
    return CgroupStats(**{**base, **kw})


def _target(tmp_path):
    return Target(Cgroup("rcalab-x-svc", Layout(2, {"": tmp_path})), "lab", "svc-abc", "svc",
                  "img:1")


def test_render_uses_cadvisors_names_and_labels(tmp_path):
    text = render([(_target(tmp_path), _stats())], {"eth0": 1e7})
    assert ('container_cpu_cfs_throttled_periods_total{container="svc",image="img:1",'
            'namespace="lab",pod="svc-abc",name="rcalab-x-svc"} 40') in text
    assert "# TYPE container_cpu_cfs_periods_total counter" in text
    assert "# TYPE container_memory_working_set_bytes gauge" in text
    assert 'node_network_speed_bytes{device="eth0"} 1e+07' in text
    names = {line.split("{")[0] for line in text.splitlines() if not line.startswith("#")}
    assert {f[0] for f in FAMILIES} <= names


def test_render_is_read_by_rcas_metrics_reader(tmp_path):
    path = tmp_path / "c.prom"
    path.write_text(render([(_target(tmp_path), _stats())]))
    ctx = ParseContext(file=path.name, zone=UTC,
                       settings={"metrics_time": "2026-12-01T00:00:00+00:00"})
    batch = read_metrics_file(path, ctx)
    assert batch.kept == len(FAMILIES) and not batch.malformed
    assert set(batch.frames["metrics"]["entity"]) == {"pod/lab/svc-abc"}


def test_exporter_writes_atomically_and_survives_a_vanished_cgroup(tmp_path):
    exporter = Exporter(tmp_path / "tf")
    exporter.targets.append(_target(tmp_path / "gone"))  # no cgroup files: stats fail
    exporter.write()
    assert exporter.errors == 1
    assert (tmp_path / "tf" / "cadvisor.prom").read_text().startswith("# HELP")
    assert not list((tmp_path / "tf").glob("*.tmp"))
