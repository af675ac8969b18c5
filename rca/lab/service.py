"""The lab's inference service: a small HTTP app that takes an image and answers in 0.2–0.6 s.

Why our own app and not a real model server: the lab needs a service whose normal
processing time is known (seed 000: the SDK's 0.2–0.6 s) so that any fault the lab injects
is the only reason a caller waits longer. It is stdlib asyncio (no framework to install)
and runs as its own process in its namespace:

    python -m rca.lab.service --listen 10.213.1.3:8080 --name interior --log FILE

Each request is logged as one server-side JSON line in the format rca's ``jsonl`` reader
reads (``ts``, ``side=server``, ``service``, ``station``, ``latency_ms``, ``status``,
``request_id``, ``bytes``), plus ``pod`` and ``node`` (ignored by the reader, kept for
people). The request body is read and thrown away, as a model server would decode it.

Knobs for faults that live inside the app: ``--grow-mb`` (memory kept per request, for
``oom``), ``--cpu-ms`` (CPU burned per request instead of sleeping, for ``cpu-throttle``),
``--concurrency N`` (a model server on one GPU processes N requests at once; the others
wait for a slot and, as with a synchronous worker's accept backlog, that wait is not in
the logged latency: the handler logs its own processing time, seed 000's 0.2–0.6 s);
``--grow-paused`` holds the growth until the process gets SIGUSR1 (the lab's injection
time: a leak that starts with a new kind of request); ``--storage`` serves
``GET /storage/<bytes>`` (streams that many bytes, an RGW object download) and
``PUT /storage/…`` (an upload, drained), for ``probe-saturation``.
``GET /healthz`` answers at once (a liveness probe's target).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["Service", "log_line", "main"]

READ_CHUNK = 1 << 16


def log_line(service: str, station: str, latency_s: float, status: int, request_id: str,
             size: int, pod: str = "", node: str = "", now: float | None = None) -> str:
    """One server-side request record, as the ``jsonl`` reader reads it."""
    ts = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    return json.dumps({"ts": ts.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                       "side": "server", "service": service, "station": station,
                       "latency_ms": round(latency_s * 1000, 1), "status": status,
                       "request_id": request_id, "bytes": size, "pod": pod, "node": node},
                      separators=(",", ":"))


class Service:
    """One HTTP/1.1 server, one request per connection (``Connection: close``)."""

    def __init__(self, name: str, log: Path, work_s: tuple[float, float] = (0.2, 0.6),
                 grow_mb: float = 0.0, cpu_ms: float = 0.0, pod: str = "", node: str = "",
                 concurrency: int = 0, storage: bool = False, grow_paused: bool = False):
        self.name, self.work_s, self.pod, self.node = name, work_s, pod, node
        self.grow_mb, self.cpu_ms, self.storage = grow_mb, cpu_ms, storage
        self.growing = not grow_paused
        self.slots = asyncio.Semaphore(concurrency) if concurrency > 0 else None
        self.log = open(log, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 - process-long
        self.kept: list[bytearray] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        t0 = time.monotonic()
        try:
            method, path, headers = await _read_head(reader)
        except (ValueError, asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        if path == "/healthz":
            await _answer(writer, 200, b"ok\n")
            return
        if self.storage and path.startswith("/storage/"):
            await self.storage_request(method, path, headers, reader, writer, t0)
            return
        size = await _drain_body(reader, int(headers.get("content-length", "0") or 0))
        if self.slots is not None:
            async with self.slots:
                t0 = time.monotonic()  # the handler's own time starts with its slot
                await self.work()
        else:
            await self.work()
        status = 200
        body = json.dumps({"service": self.name, "ok": True}).encode() + b"\n"
        try:
            await _answer(writer, status, body)
        except ConnectionError:
            status = 499  # the caller hung up before the answer
        self.log.write(log_line(self.name, headers.get("x-station", ""),
                                time.monotonic() - t0, status,
                                headers.get("x-request-id", ""), size, self.pod, self.node)
                       + "\n")

    async def storage_request(self, method, path, headers, reader, writer, t0) -> None:
        """An object store's GET (stream ``<bytes>`` of zeros) or PUT (drain the body),
        logged like every request when it ends, with the bytes that moved."""
        status, size = 200, 0
        try:
            if method == "PUT":
                size = await _drain_body(reader, int(headers.get("content-length", "0") or 0))
                await _answer(writer, 200, b"{}\n")
            else:
                want = int(path.rsplit("/", 1)[1]) if path.rsplit("/", 1)[1].isdigit() else 0
                writer.write(f"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                             f"Content-Length: {want}\r\nConnection: close\r\n\r\n".encode())
                while size < want:
                    n = min(READ_CHUNK, want - size)
                    writer.write(_ZEROS[:n])
                    await writer.drain()
                    size += n
                writer.close()
        except ConnectionError:
            status = 499
        self.log.write(log_line(self.name, headers.get("x-station", ""),
                                time.monotonic() - t0, status,
                                headers.get("x-request-id", ""), size, self.pod, self.node)
                       + "\n")

    async def work(self) -> None:
        """The model's processing: a sleep of 0.2–0.6 s, or CPU burned (``--cpu-ms``),
        plus memory kept (``--grow-mb``)."""
        if self.grow_mb and self.growing:
            block = bytearray(int(self.grow_mb * (1 << 20)))
            block[::4096] = b"x" * len(block[::4096])  # touch every page: really resident
            self.kept.append(block)
        if self.cpu_ms:
            # count only this request's own slices: the process' CPU clock also runs for
            # the requests it interleaves with, which would share one budget among them
            left = self.cpu_ms / 1000.0
            while left > 0:
                t = time.process_time()
                for _ in range(20):
                    sum(range(1000))
                left -= time.process_time() - t
                await asyncio.sleep(0)
            return
        await asyncio.sleep(random.uniform(*self.work_s))


_ZEROS = bytes(READ_CHUNK)


async def _read_head(reader: asyncio.StreamReader) -> tuple[str, str, dict[str, str]]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            key, value = line.split(":", 1)
            headers[key.strip().lower()] = value.strip()
    return method, path, headers


async def _drain_body(reader: asyncio.StreamReader, length: int) -> int:
    left = length
    while left > 0:
        chunk = await reader.read(min(READ_CHUNK, left))
        if not chunk:
            break
        left -= len(chunk)
    return length - left


async def _answer(writer: asyncio.StreamWriter, status: int, body: bytes) -> None:
    reason = {200: "OK"}.get(status, "Error")
    writer.write(f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
    await writer.drain()
    writer.close()


async def serve(args) -> None:
    service = Service(args.name, Path(args.log), (args.min_s, args.max_s), args.grow_mb,
                      args.cpu_ms, args.pod, args.node, args.concurrency, args.storage,
                      args.grow_paused)
    host, port = args.listen.rsplit(":", 1)
    server = await asyncio.start_server(service.handle, host, int(port), backlog=512)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, lambda: setattr(service, "growing", True))
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m rca.lab.service")
    p.add_argument("--listen", required=True, metavar="IP:PORT")
    p.add_argument("--name", required=True, help="service name (logged)")
    p.add_argument("--log", required=True, help="server-side JSON lines go here")
    p.add_argument("--pod", default="")
    p.add_argument("--node", default="")
    p.add_argument("--min-s", type=float, default=0.2)
    p.add_argument("--max-s", type=float, default=0.6)
    p.add_argument("--grow-mb", type=float, default=0.0)
    p.add_argument("--cpu-ms", type=float, default=0.0)
    p.add_argument("--concurrency", type=int, default=0,
                   help="requests processed at once (0: no limit)")
    p.add_argument("--grow-paused", action="store_true",
                   help="grow only after SIGUSR1 (the lab's injection)")
    p.add_argument("--storage", action="store_true",
                   help="serve GET /storage/<bytes> and PUT /storage/... (bulk transfers)")
    asyncio.run(serve(p.parse_args(argv)))


if __name__ == "__main__":  # pragma: no cover
    main()
