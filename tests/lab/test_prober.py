"""rca.lab.prober against a tiny local HTTP server on 127.0.0.1 (slow, failing, gone)."""

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from rca.lab.prober import HttpGetProbe, Prober, probe_failure_message, probe_once


class _Health(BaseHTTPRequestHandler):
    delay_s = 0.0
    status = 200

    def do_GET(self):  # noqa: N802 - the stdlib's name
        time.sleep(type(self).delay_s)
        body = b"ok\n"
        self.send_response(type(self).status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.server.agents.append(self.headers.get("User-Agent"))

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    handler = type("H", (_Health,), {})
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.agents = []
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv, handler
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


def _probe(srv, **kw) -> HttpGetProbe:
    return HttpGetProbe("127.0.0.1", srv.server_address[1], **kw)


def test_a_fast_answer_passes_and_says_kube_probe(server):
    srv, _ = server
    result = probe_once(_probe(srv, timeout_s=1.0))
    assert result.ok and result.message == ""
    assert srv.agents[0].startswith("kube-probe/")


def test_a_slow_answer_fails_with_kubelets_timeout_wording(server):
    srv, handler = server
    handler.delay_s = 0.6
    probe = _probe(srv, timeout_s=0.3)
    result = probe_once(probe)
    assert not result.ok
    assert result.message == (f'Get "http://127.0.0.1:{probe.port}/healthz": context deadline '
                              "exceeded (Client.Timeout exceeded while awaiting headers)")
    assert 0.25 <= result.seconds < 0.55


def test_just_under_the_timeout_passes(server):
    srv, handler = server
    handler.delay_s = 0.1
    assert probe_once(_probe(srv, timeout_s=0.6)).ok


def test_an_error_status_fails_and_a_redirect_passes(server):
    srv, handler = server
    handler.status = 503
    assert probe_once(_probe(srv)).message == "HTTP probe failed with statuscode: 503"
    handler.status = 302
    assert probe_once(_probe(srv)).ok


def test_a_closed_port_is_refused_not_a_timeout():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = probe_once(HttpGetProbe("127.0.0.1", port))
    assert result.message == (f'Get "http://127.0.0.1:{port}/healthz": dial tcp '
                              f"127.0.0.1:{port}: connect: connection refused")


def test_failure_messages_are_kubelets_variants():
    url = "http://10.0.0.1:80/"
    assert "while reading body" in probe_failure_message(url, "body-timeout")
    assert probe_failure_message(url, "error", "EOF") == 'Get "http://10.0.0.1:80/": EOF'


def _run_prober(srv, probe, until):
    events, kills = [], []
    prober = Prober(probe, "svc", lambda *e: events.append(e), lambda: kills.append(time.time()))
    prober.start()
    try:
        deadline = time.monotonic() + 10
        while not until(events, kills) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        prober.stop()
    return prober, events, kills


def test_prober_kills_after_the_failure_threshold_in_a_row(server):
    srv, handler = server
    handler.delay_s = 0.3
    probe = _probe(srv, initial_delay_s=0.0, timeout_s=0.1, period_s=0.15,
                   failure_threshold=3)
    prober, events, kills = _run_prober(srv, probe, lambda ev, k: len(k) >= 1)
    assert len(kills) == 1
    reasons = [e[1] for e in events]
    assert reasons[:4] == ["Unhealthy", "Unhealthy", "Unhealthy", "Killing"]
    assert events[0][0] == "Warning" and events[0][2].startswith("Liveness probe failed: Get ")
    assert events[3] == ("Normal", "Killing",
                         "Container svc failed liveness probe, will be restarted")


def test_prober_does_not_kill_when_failures_are_not_consecutive(server):
    srv, handler = server
    probe = _probe(srv, initial_delay_s=0.0, timeout_s=0.1, period_s=0.1, failure_threshold=3)
    flip = iter([0.3, 0.3, 0.0] * 4)
    real = probe_once

    def alternating(p):
        handler.delay_s = next(flip, 0.0)
        return real(p)

    events, kills = [], []
    prober = Prober(probe, "svc", lambda *e: events.append(e), lambda: kills.append(1),
                    probe_fn=alternating)
    prober.start()
    time.sleep(1.8)
    prober.stop()
    assert len(prober.results) >= 9
    assert kills == [] and events and all(e[1] == "Unhealthy" for e in events)
