"""The stations: seed 003's constant-QPS load generator (processes × asyncio coroutines).

Why a token schedule: the k-th request of a station is due at ``t0 + k / qps``, whatever
happened to the earlier ones, so a stalled request never slows the offered load (a loop
that sleeps after each answer would back off exactly when the fault bites, and hide it).
Each station is one process; each request is one coroutine.

Why every request resolves the name itself (``loop.getaddrinfo``, no cache in the client):
that is what the inference clients of seed 000 did, and it is the path on which glibc's
resolver waits its 5 s timeout when a DNS packet is lost. getaddrinfo blocks a thread, so
the loop gets a pool large enough that stalled lookups do not queue the healthy ones.

Timeouts, as the seed's industrial PCs had them: the HTTP exchange is bounded by 5 s
(``--timeout``); name resolution is not bounded by it (socket timeouts never cover
getaddrinfo, as in ``requests``). A request whose whole time exceeds the 5 s budget is
logged ``timeout`` with the time it really took (the station alarmed; seed 000's timed-out
requests took 11–33 s).

Client-side JSON lines (``side=client``, ``station``, ``service``, ``latency_ms``,
``status``: HTTP code, ``timeout`` or ``error``, ``request_id``, ``bytes``) in the format
rca's ``jsonl`` reader reads.

    python -m rca.lab.stations --station station-1 --qps 2 --duration 60 \
        --target interior=http://interior.infer.lab:8080/infer --log FILE
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import socket
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from urllib.parse import urlsplit

__all__ = ["due_times", "main", "parse_target"]

RESOLVER_THREADS = 64
WRITE_CHUNK = 1 << 16


def due_times(qps: float, t0: float, until: float):
    """The token schedule: request k is due at ``t0 + k / qps`` (never after ``until``)."""
    k = 0
    while (at := t0 + k / qps) < until:
        yield at
        k += 1


def parse_target(text: str) -> tuple[str, str, str, int, str]:
    """``name=http://host:port/path`` -> (name, url, host, port, path)."""
    name, sep, url = text.partition("=")
    parts = urlsplit(url)
    if not sep or parts.scheme != "http" or not parts.hostname:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=http://HOST:PORT/PATH")
    return name, url, parts.hostname, parts.port or 80, parts.path or "/"


class Station:
    def __init__(self, name: str, targets: list, log_path: str, timeout_s: float,
                 body_bytes: tuple[int, int]):
        self.name, self.targets, self.timeout_s, self.body_bytes = (
            name, targets, timeout_s, body_bytes)
        self.log = open(log_path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115
        self.sent = 0

    async def request(self) -> None:
        service, _url, host, port, path = self.targets[self.sent % len(self.targets)]
        self.sent += 1
        rid = uuid.uuid4().hex[:16]
        size = random.randint(*self.body_bytes) if self.body_bytes[1] else 0
        t0 = time.monotonic()
        status: int | str
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port,
                                                                 type=socket.SOCK_STREAM)
            ip = infos[0][4][0]
            status = await asyncio.wait_for(self._exchange(ip, port, host, path, rid, size),
                                            self.timeout_s)
        except TimeoutError:
            status = "timeout"
        except OSError:
            status = "error"
        latency = time.monotonic() - t0
        if latency > self.timeout_s and status != "error":
            status = "timeout"  # over the station's budget: it alarmed
        self.log.write(json.dumps(
            {"ts": _now_iso(), "side": "client", "station": self.name, "service": service,
             "latency_ms": round(latency * 1000, 1), "status": status, "request_id": rid,
             "bytes": size}, separators=(",", ":")) + "\n")

    async def _exchange(self, ip: str, port: int, host: str, path: str, rid: str,
                        size: int) -> int:
        reader, writer = await asyncio.open_connection(ip, port)
        sending = None
        try:
            writer.write(f"POST {path} HTTP/1.1\r\nHost: {host}\r\n"
                         f"X-Station: {self.name}\r\nX-Request-Id: {rid}\r\n"
                         f"Content-Type: image/jpeg\r\nContent-Length: {size}\r\n"
                         "Connection: close\r\n\r\n".encode())
            sending = asyncio.create_task(_send_body(writer, size))
            # read the answer while the body goes out: a proxy may answer (413) before
            # it has read the body, and then reads and discards the rest
            status, length = await _read_head(reader)
            await reader.readexactly(length)
            await sending
            return status
        finally:
            if sending is not None:
                sending.cancel()
            writer.close()


_BLOCK = bytes(WRITE_CHUNK)


async def _send_body(writer: asyncio.StreamWriter, size: int) -> None:
    left = size
    try:
        while left > 0:
            n = min(WRITE_CHUNK, left)
            writer.write(_BLOCK[:n])
            await writer.drain()
            left -= n
    except (ConnectionError, OSError):
        return  # refused mid-body (413): the answer is what counts


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, int]:
    """The status code and Content-Length of an HTTP/1.1 answer."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    parts = head[0].split()
    if len(parts) < 2 or not parts[1].isdigit():
        raise ConnectionError(f"no HTTP status line: {head[0][:40]!r}")
    length = 0
    for line in head[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == "content-length" and value.strip().isdigit():
            length = int(value)
    return int(parts[1]), length


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def run_station(station: Station, qps: float, duration_s: float) -> None:
    loop = asyncio.get_running_loop()
    loop.set_default_executor(ThreadPoolExecutor(RESOLVER_THREADS))
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    tasks: set[asyncio.Task] = set()
    t0 = time.monotonic()
    for at in due_times(qps, t0, t0 + duration_s):
        delay = at - time.monotonic()
        if delay > 0:
            try:
                await asyncio.wait_for(stop.wait(), delay)
            except TimeoutError:
                pass
        if stop.is_set():
            break
        task = asyncio.create_task(station.request())
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:  # let the requests in flight finish (a stalled lookup ends within ~10 s)
        await asyncio.wait(tasks, timeout=station.timeout_s * 3)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m rca.lab.stations")
    p.add_argument("--station", required=True, help="station name (logged)")
    p.add_argument("--qps", type=float, required=True, help="requests per second")
    p.add_argument("--duration", type=float, required=True, metavar="SECONDS")
    p.add_argument("--target", type=parse_target, action="append", required=True,
                   help="NAME=http://HOST:PORT/PATH (repeatable: requests go round them)")
    p.add_argument("--log", required=True)
    p.add_argument("--timeout", type=float, default=5.0)
    p.add_argument("--body-bytes", default="0-0", metavar="MIN-MAX",
                   help="request body size range in bytes (images: 3-10 MB)")
    args = p.parse_args(argv)
    low, _, high = args.body_bytes.partition("-")
    station = Station(args.station, args.target, args.log, args.timeout,
                      (int(low), int(high or low)))
    asyncio.run(run_station(station, args.qps, args.duration))


if __name__ == "__main__":  # pragma: no cover
    main()
