"""Labelled days of the Kubernetes-side causes (seeds 002–004 and an OOM loop), and their
decoys. Each world is written by ``rca.replay`` from its own story (what the cluster
did), never from what the rules check; the decoys carry a look-alike that must not fire.
"""

from __future__ import annotations

from collections.abc import Callable

from rca.replay.balancer import BalancerWorld
from rca.replay.gpu import GpuWorld
from rca.replay.oom import OomWorld
from rca.replay.uploads import UploadWorld

SCENARIOS: dict[str, Callable[[], object]] = {
    # http.body_too_large
    "upload-413": lambda: UploadWorld(),
    "upload-413-blobs": lambda: UploadWorld(
        name="upload-413-blobs", seed=21, zone="Europe/Berlin", since="2023-05-02T13:30:00",
        hours=3.0, frontend="portal", namespace="qa-portal", upload_path="/api/v2/blobs",
        uploader="172.20.9.14", uploads_per_min=5.0, web_per_min=45.0, wave_at=1.9,
        wave_minutes=12.0, scattered_400_per_h=20.0, scattered_413_per_h=1.0),
    # decoy: scattered 400s and the odd 413 all day, no wave
    "decoy-scattered-4xx": lambda: UploadWorld(
        name="decoy-scattered-4xx", seed=22, zone="America/Sao_Paulo",
        since="2022-11-10T10:00:00", hours=3.0, wave_at=None, scattered_400_per_h=30.0,
        scattered_413_per_h=2.0, web_per_min=30.0),
    # scheduling.gpu_fragmentation
    "gpu-fragmentation": lambda: GpuWorld(),
    "gpu-fragmentation-3x4": lambda: GpuWorld(
        name="gpu-fragmentation-3x4", seed=31, zone="UTC", since="2024-01-15T06:00:00",
        hours=2.5, namespace="vision-ops", nodes=("t4-node-a", "t4-node-b", "t4-node-c"),
        gpus_per_node=4, arrivals=(("lane-detect", 1, 10.0), ("plate-ocr", 2, 12.0),
                                   ("crowd-count", 3, 15.0), ("pose-est", 2, 19.0),
                                   ("scene-parse", 3, 40.0)), retry_s=45.0),
    # decoy: a GPU pod that fails scheduling once and is placed 20 s later, and a
    # crash-looping cronjob nobody calls
    "decoy-gpu-quick-schedule": lambda: GpuWorld(
        name="decoy-gpu-quick-schedule", seed=32, zone="Asia/Kolkata",
        since="2023-08-01T09:00:00", hours=2.0, arrivals=(("asr", 4, 10.0), ("tts", 4, 12.0),
                                                          ("nmt", 4, 30.0)),
        quick=(("diarize", 2, 55.0),), cronjob_crashloop_at=70.0),
    # lb.dead_backend (+ config.wrong_target on the same day)
    "dead-backend-dev-target": lambda: BalancerWorld(),
    "dead-backend-3of8": lambda: BalancerWorld(
        name="dead-backend-3of8", seed=41, zone="America/Chicago", since="2023-03-14T08:00:00",
        hours=3.0, namespace="recsys", service="embedder", old=5, broken=3,
        online_per_min=50.0, online_timeout_s=0.6, batch_at=1.2, batch_minutes=15.0,
        batch_per_min=300.0, overload=2.0, dev_at=None),
    # config.wrong_target alone
    "dev-target-translator": lambda: BalancerWorld(
        name="dev-target-translator", seed=42, zone="UTC", since="2024-04-09T18:00:00",
        hours=2.5, namespace="nlp", service="translator", old=3, broken=0, batch_at=None,
        dev_at=1.3, dev_minutes=20.0, dev_batch_per_min=60.0, dev_online_per_min=6.0,
        dev_timeout_s=1.5, online_per_min=20.0),
    # decoy: a backend drained on purpose in a rollout while a too-slow pool fails
    # under a batch: the app is slow, no backend is dead
    "decoy-rollout-drain": lambda: BalancerWorld(
        name="decoy-rollout-drain", seed=43, zone="Australia/Sydney",
        since="2023-10-03T11:00:00", hours=3.0, service="scorer", old=4, broken=0,
        draining=1, online_timeout_s=3.0, overload=8.0, batch_at=1.4, batch_per_min=120.0,
        dev_at=None, expected_batch_cause="app.slow_response"),
    # memory.oom_kill
    "oom-loop": lambda: OomWorld(),
    "oom-loop-tokenizer": lambda: OomWorld(
        name="oom-loop-tokenizer", seed=51, zone="Asia/Tokyo", since="2022-12-20T20:00:00",
        hours=2.5, namespace="llm", service="tokenizer", node="mem-node-3", limit_gib=4,
        per_min=15.0, loop_at=1.0, kills=3),
}
