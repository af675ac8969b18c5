"""A bulk transfer: seed 001's Argo workflows moving large artifacts to and from RGW.

Why its own loop and not the stations: the stations hold a request rate; a workflow's
artifact download takes whatever the link gives it, one object after another, and that
is what fills a link. ``--parallel`` transfers (``--method GET``: download the object at
``--url``; ``PUT``: upload ``--bytes`` to it) run back to back for ``--duration``; each
ends in one client-side JSON line (the ``jsonl`` reader's fields: ``side=client``,
``station`` = the workflow, ``service``, ``latency_ms``, ``status`` — HTTP code, or
``error`` when the connection broke mid-object as in the seed's ``Connection closed at
byte 528482304`` — and ``bytes`` moved; the seed's uploads failed with ``timed out
waiting for the condition``).

    python -m rca.lab.bulk --url http://10.213.1.3:8090/storage/40000000 \
        --service rgw --workflow argo-wf --duration 60 --log FILE [--method PUT --bytes N]
"""

from __future__ import annotations

import argparse
import json
import socket
import threading
import time
import uuid
from datetime import UTC, datetime
from urllib.parse import urlsplit

__all__ = ["download", "main", "upload"]

_BLOCK = bytes(1 << 16)


def download(url: str, timeout_s: float) -> tuple[int | str, int]:
    """GET ``url`` to the end: (HTTP status or ``error``, bytes of body received)."""
    parts = urlsplit(url)
    got, status = 0, "error"
    try:
        with socket.create_connection((parts.hostname, parts.port or 80), timeout=timeout_s) as s:
            s.sendall(f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                      "Connection: close\r\n\r\n".encode())
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = s.recv(65536)
                if not chunk:
                    return "error", 0
                head += chunk
            header, _, body = head.partition(b"\r\n\r\n")
            code = int(header.split()[1])
            length = int(next((line.split(b":")[1] for line in header.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), b"0"))
            got = len(body)
            while got < length:
                chunk = s.recv(1 << 20)
                if not chunk:
                    return "error", got  # closed mid-object
                got += len(chunk)
            status = code
    except (OSError, ValueError, IndexError):
        return "error", got
    return status, got


def upload(url: str, size: int, timeout_s: float) -> tuple[int | str, int]:
    """PUT ``size`` bytes to ``url``: (HTTP status or ``error``, bytes sent)."""
    parts = urlsplit(url)
    sent = 0
    try:
        with socket.create_connection((parts.hostname, parts.port or 80), timeout=timeout_s) as s:
            s.sendall(f"PUT {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                      f"Content-Length: {size}\r\nConnection: close\r\n\r\n".encode())
            while sent < size:
                n = min(len(_BLOCK), size - sent)
                s.sendall(_BLOCK[:n])
                sent += n
            answer = s.recv(4096)
            return int(answer.split()[1]), sent
    except (OSError, ValueError, IndexError):
        return "error", sent


def _worker(args, log, lock: threading.Lock, until: float) -> None:
    while time.monotonic() < until:
        t0 = time.monotonic()
        status, got = (upload(args.url, args.bytes, args.timeout) if args.method == "PUT"
                       else download(args.url, args.timeout))
        line = json.dumps({"ts": datetime.now(UTC).isoformat(timespec="milliseconds")
                           .replace("+00:00", "Z"), "side": "client", "station": args.workflow,
                           "service": args.service,
                           "latency_ms": round((time.monotonic() - t0) * 1000, 1),
                           "status": status, "request_id": uuid.uuid4().hex[:16],
                           "bytes": got}, separators=(",", ":"))
        with lock:
            log.write(line + "\n")
        if status == "error":
            time.sleep(1.0)  # the artifact client's retry pause


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m rca.lab.bulk")
    p.add_argument("--url", required=True)
    p.add_argument("--service", required=True)
    p.add_argument("--workflow", default="argo-wf")
    p.add_argument("--duration", type=float, required=True)
    p.add_argument("--parallel", type=int, default=2)
    p.add_argument("--method", choices=("GET", "PUT"), default="GET")
    p.add_argument("--bytes", type=int, default=0, help="upload size (PUT)")
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--log", required=True)
    args = p.parse_args(argv)
    until = time.monotonic() + args.duration
    lock = threading.Lock()
    with open(args.log, "a", buffering=1, encoding="utf-8") as log:
        threads = [threading.Thread(target=_worker, args=(args, log, lock, until))
                   for _ in range(args.parallel)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


if __name__ == "__main__":  # pragma: no cover
    main()
