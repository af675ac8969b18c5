"""Stations: the token schedule, target parsing, and real requests against the service."""

import argparse
import asyncio
import json
import socket

import pytest

from collectors.base import ParseContext
from collectors.logs import jsonl
from rca.lab.service import Service
from rca.lab.stations import Station, due_times, parse_target
from rca.timeutil import get_zone


def test_schedule_holds_the_rate_whatever_the_answers_take():
    times = list(due_times(4.0, 100.0, 110.0))
    assert len(times) == 40
    assert times[0] == 100.0 and times[-1] == pytest.approx(109.75)
    assert {round(b - a, 6) for a, b in zip(times, times[1:], strict=False)} == {0.25}


def test_parse_target():
    assert parse_target("feet=http://feet.infer.lab:8080/infer") == (
        "feet", "http://feet.infer.lab:8080/infer", "feet.infer.lab", 8080, "/infer")
    with pytest.raises(argparse.ArgumentTypeError):
        parse_target("http://feet.infer.lab/infer")  # no name


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _serve_and_call(tmp_path, handler=None, size=(1000, 1000), timeout=5.0):
    port = _free_port()
    service = Service("feet", tmp_path / "server.jsonl", (0.01, 0.02), pod="feet-1",
                      node="infer-node")
    server = await asyncio.start_server(handler or service.handle, "127.0.0.1", port)
    target = parse_target(f"feet=http://localhost:{port}/infer")
    station = Station("station-1", [target], str(tmp_path / "client.jsonl"), timeout, size)
    async with server:
        await station.request()
    station.log.close()
    service.log.close()
    return [json.loads(line) for line in (tmp_path / "client.jsonl").read_text().splitlines()]


def test_a_request_is_logged_on_both_sides_in_the_jsonl_format(tmp_path):
    (client,) = asyncio.run(_serve_and_call(tmp_path))
    assert client["status"] == 200 and client["bytes"] == 1000
    (server,) = [json.loads(x) for x in (tmp_path / "server.jsonl").read_text().splitlines()]
    assert server["request_id"] == client["request_id"] and server["station"] == "station-1"
    assert server["bytes"] == 1000 and 10 <= server["latency_ms"] < 1000
    ctx = ParseContext("x.jsonl", get_zone("UTC"))
    for line in (tmp_path / "client.jsonl", tmp_path / "server.jsonl"):
        ((table, row),) = jsonl.parse(line.read_text().strip(), ctx)
        assert table == "requests" and row["service"] == "feet"


def test_an_early_413_is_what_the_station_logs(tmp_path):
    async def refuse(reader, writer):  # a proxy refusing before it reads the body
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 413 Request Entity Too Large\r\nContent-Length: 3\r\n"
                     b"Connection: close\r\n\r\nno\n")
        await writer.drain()
        while await reader.read(65536):  # nginx reads and discards the rest
            pass
        writer.close()
    (client,) = asyncio.run(_serve_and_call(tmp_path, refuse, size=(3_000_000, 3_000_000)))
    assert client["status"] == 413 and client["bytes"] == 3_000_000


def test_an_answer_over_the_budget_is_a_timeout_with_its_real_time(tmp_path):
    async def slow(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(1.0)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()
    (client,) = asyncio.run(_serve_and_call(tmp_path, slow, size=(0, 0), timeout=0.3))
    assert client["status"] == "timeout" and 250 <= client["latency_ms"] < 1000


def test_a_name_that_does_not_resolve_is_an_error(tmp_path):
    station = Station("station-1", [parse_target("x=http://no-such-host.invalid:1/")],
                      str(tmp_path / "c.jsonl"), 5.0, (0, 0))
    asyncio.run(station.request())
    station.log.close()
    (row,) = [json.loads(x) for x in (tmp_path / "c.jsonl").read_text().splitlines()]
    assert row["status"] == "error"

