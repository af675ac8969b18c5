"""Seed 002's upload day: a front-end nginx answers 413 to uploads meant for the back end.

The world: web users browse a front end served by nginx (``combined`` log with
``$request_time``); an uploader program posts camera images (3–10 MB) to the upload API.
At ``wave_at`` someone points the uploader at the front end's port: nginx, with its
default ``client_max_body_size`` of 1 MB, answers every upload ``413 Request Entity Too
Large`` in a millisecond, until the config is put back ``wave_minutes`` later. The
uploader logs each call (JSON lines, zone-less local time, ``bytes`` = body size).

Noise on every day: scattered 400s from users submitting a broken form, and now and then
a single 413 from a user attaching a huge file to the feedback form. With ``wave_at``
``None`` the day is a decoy: only that noise, and no incident.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from rca.replay.k8s import K8s, dump
from rca.replay.worldio import expected_json, setup, write_lines, write_text
from rca.replay.writers import Clock

__all__ = ["UploadWorld"]

_AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/92.0 Safari/537.36"
_UPLOADER_AGENT = "python-requests/2.26.0"
_BODY_413 = 183  # nginx's built-in 413 page with its version line


@dataclass(frozen=True)
class UploadWorld:
    name: str = "upload-413"
    seed: int = 2
    zone: str = "Asia/Shanghai"
    since: str = "2021-09-14T09:00:00"
    hours: float = 4.0
    frontend: str = "web-frontend"
    namespace: str = "factory-web"
    upload_path: str = "/upload/images"
    uploader: str = "10.12.4.31"  # the uploader's address (its station name)
    uploads_per_min: float = 2.0
    web_per_min: float = 20.0
    wave_at: float | None = 1.6  # hours after since; None: a decoy day
    wave_minutes: float = 25.0
    scattered_400_per_h: float = 8.0
    scattered_413_per_h: float = 0.5

    def write(self, out_dir: Path) -> Path:
        w = setup(self, out_dir, 20)
        out, clock, rng, since, until = w.out, w.clock, w.rng, w.since, w.until
        wave = ((since + self.wave_at * 3600, since + self.wave_at * 3600
                 + self.wave_minutes * 60) if self.wave_at is not None else None)
        nginx: list[tuple[float, str]] = []
        client: list[tuple[float, str]] = []
        self._browsing(rng, clock, since, until, nginx)
        rejected = self._uploads(rng, clock, since, until, wave, nginx, client)
        write_lines(out / "logs" / "frontend-nginx.log", [line for _, line in sorted(nginx)])
        write_lines(out / "logs" / "uploader.jsonl", [line for _, line in sorted(client)])
        write_text(out / "kube" / "cluster.json", self._cluster(rng, since))
        incidents = ([(rejected[0], rejected[-1], "http.body_too_large", [])]
                     if rejected else [])
        write_text(out / "expected.json", expected_json(
            clock, since, until, self.zone, incidents,
            {"scenario": self.name, "seed": self.seed, "uploads_rejected": len(rejected)}))
        return out

    def _browsing(self, rng, clock: Clock, since: float, until: float,
                  nginx: list[tuple[float, str]]) -> None:
        users = [f"10.12.{rng.integers(20, 40)}.{rng.integers(2, 250)}" for _ in range(40)]
        pages = ["/", "/static/js/app.3f9c2e.js", "/static/css/app.8a1b.css", "/api/stations",
                 "/api/alarms?since=1h"]
        t = since
        while True:
            t += rng.exponential(60.0 / self.web_per_min)
            if t >= until:
                break
            user = users[rng.integers(len(users))]
            nginx.append((t, self._line(clock, t, user, "GET", pages[rng.integers(len(pages))],
                                        200, int(rng.integers(900, 60000)),
                                        float(rng.gamma(2.0, 0.01)), _AGENT)))
        for per_h, status, path in ((self.scattered_400_per_h, 400, "/api/login"),
                                    (self.scattered_413_per_h, 413, "/api/feedback")):
            for at in rng.uniform(since, until, int(rng.poisson(per_h * self.hours))):
                user = users[rng.integers(len(users))]
                nginx.append((at, self._line(clock, at, user, "POST", path, status,
                                             _BODY_413 if status == 413 else 61,
                                             0.0 if status == 413 else 0.004, _AGENT)))

    def _uploads(self, rng, clock: Clock, since: float, until: float,
                 wave: tuple[float, float] | None, nginx: list[tuple[float, str]],
                 client: list[tuple[float, str]]) -> list[float]:
        """Uploads all day; those inside the wave hit the front end and are rejected."""
        rejected = []
        t = since
        while True:
            t += rng.exponential(60.0 / self.uploads_per_min)
            if t >= until:
                break
            size = int(rng.uniform(3e6, 10e6))
            if wave and wave[0] <= t < wave[1]:
                latency, status = float(rng.uniform(0.004, 0.02)), 413
                nginx.append((t, self._line(clock, t, self.uploader, "POST", self.upload_path,
                                            413, _BODY_413, 0.0, _UPLOADER_AGENT)))
                rejected.append(t)
            else:
                latency, status = float(rng.gamma(4.0, 0.15)) + size / 110e6, 200
            client.append((t, json.dumps({"ts": clock.station(t), "station": self.uploader,
                                          "service": "upload", "latency_ms":
                                          round(latency * 1000, 1), "status": status,
                                          "side": "client", "bytes": size})))
        return rejected

    @staticmethod
    def _line(clock: Clock, t: float, addr: str, method: str, path: str, status: int,
              body: int, request_time: float, agent: str) -> str:
        """nginx ``combined`` with ``$request_time`` appended."""
        return (f'{addr} - - [{clock.nginx(t)}] "{method} {path} HTTP/1.1" {status} {body} '
                f'"-" "{agent}" {request_time:.3f}')

    def _cluster(self, rng, since: float) -> str:
        k = K8s(rng)
        rs = f"{self.frontend}-{k.token(10)}"
        items = [k.node("web-node-1", "10.12.0.11", since - 200 * 86400),
                 k.deployment(self.frontend, self.namespace, 1, 1, "nginx:1.21.1",
                              since - 40 * 86400),
                 k.pod(f"{rs}-{k.token(5)}", self.namespace, self.frontend, since - 6 * 86400,
                       image="nginx:1.21.1", node="web-node-1", ip="10.244.3.17",
                       owner=("ReplicaSet", rs))]
        return dump(items)
