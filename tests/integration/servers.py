"""Real servers the integration tests start on loopback: Prometheus, VictoriaMetrics.

Why one module: every live test needs the same care: a free port on 127.0.0.1 only, a
readiness wait that fails with the server's own log, and a stop by PID in ``finally``.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

__all__ = ["backfilled_prometheus", "free_port", "require", "running", "victoria_metrics"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require(*programs: str) -> None:
    missing = [b for b in programs if shutil.which(b) is None]
    if missing:
        pytest.fail(f"{' and '.join(missing)} not found: `make test` installs them "
                    "(scripts/install-system-deps.sh)")


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def running(cmd: list[str], url: str, ready: str, log: Path,
            deadline_s: float = 60.0) -> Iterator[subprocess.Popen]:
    """Start ``cmd``, wait until ``url + ready`` answers 200, stop it by PID at the end."""
    with open(log, "wb") as log_fh:
        proc = subprocess.Popen(cmd, stdout=log_fh, stderr=subprocess.STDOUT)
    try:
        _wait_ready(proc, url + ready, log, deadline_s)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_ready(proc: subprocess.Popen, url: str, log: Path, deadline_s: float) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{proc.args[0]} exited with {proc.returncode}:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"{proc.args[0]} not ready after {deadline_s:.0f}s:\n{_tail(log)}")


def openmetrics_of(files: list[Path], out: Path) -> Path:
    """Several OpenMetrics files as one (each family stays whole; one ``# EOF``)."""
    if len(files) == 1:
        return files[0]
    with open(out, "w", encoding="utf-8") as fh:
        for f in files:
            for line in open(f, encoding="utf-8"):
                if line.rstrip("\n") != "# EOF":
                    fh.write(line)
        fh.write("# EOF\n")
    return out


@contextmanager
def backfilled_prometheus(om_files: list[Path], tmp: Path,
                          flags: list[str] | None = None) -> Iterator[str]:
    """A Prometheus on loopback holding ``om_files`` (backfilled with promtool); its URL.
    ``flags`` go on its command line (e.g. ``--query.max-samples=50``)."""
    require("prometheus", "promtool")
    tsdb = tmp / "tsdb"
    om = openmetrics_of(om_files, tmp / "all.om")
    done = subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", str(om),
                           str(tsdb)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"promtool refused the file:\n{done.stdout}\n{done.stderr}"
    if om not in om_files:
        om.unlink()
    config = tmp / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 15s\nscrape_configs: []\n")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # retention 100y: blocks dated years ago would otherwise be deleted at start-up
    with running(["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tsdb}",
                  f"--web.listen-address=127.0.0.1:{port}",
                  "--storage.tsdb.retention.time=100y", *(flags or [])], url, "/-/ready",
                 tmp / "prometheus.log"):
        yield url


@contextmanager
def victoria_metrics(tmp: Path) -> Iterator[str]:
    """A single-node VictoriaMetrics on loopback with an empty store; its URL."""
    require("victoria-metrics")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running(["victoria-metrics", f"-storageDataPath={tmp / 'vm-data'}",
                  f"-httpListenAddr=127.0.0.1:{port}", "-retentionPeriod=100y",
                  "-search.disableCache", "-loggerLevel=WARN"], url, "/health",
                 tmp / "victoria-metrics.log"):
        yield url


def import_into_victoria_metrics(url: str, om_files: list[Path]) -> int:
    """Post OpenMetrics files to ``/api/v1/import/prometheus`` (the text format, whose
    timestamps are milliseconds: OpenMetrics' seconds are converted), then flush so the
    samples are searchable at once. Returns the number of samples sent."""
    sent = 0
    for f in om_files:
        body = []
        for line in open(f, encoding="utf-8"):
            if line.startswith("#") or not line.strip():
                continue
            head, _, stamp = line.rstrip("\n").rpartition(" ")
            body.append(f"{head} {int(float(stamp) * 1000)}\n")
        sent += len(body)
        req = urllib.request.Request(f"{url}/api/v1/import/prometheus",
                                     data="".join(body).encode(), method="POST")
        with urllib.request.urlopen(req, timeout=120) as resp:
            assert resp.status == 204, resp.read()
    with urllib.request.urlopen(f"{url}/internal/force_flush", timeout=60) as resp:
        assert resp.status == 200
    return sent
