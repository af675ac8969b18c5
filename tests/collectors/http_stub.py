"""A local HTTP(S) server on 127.0.0.1 that answers from a function and records requests.

Why a real server rather than a patched client: the live collectors must be held to what
goes over the wire (query parameters, headers, TLS, status codes), through the same
``requests`` / ``prometheus-api-client`` code that talks to a real Prometheus or Loki.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

__all__ = ["Request", "Stub", "self_signed", "serve"]


@dataclass
class Request:
    path: str
    params: dict[str, str]
    headers: dict[str, str]


#: respond(request) -> (status, body as JSON-able or text, extra headers)
Responder = Callable[[Request], tuple[int, object, dict]]


@dataclass
class Stub:
    url: str
    requests: list[Request] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0


@contextmanager
def serve(respond: Responder, cert: tuple[Path, Path] | None = None) -> Iterator[Stub]:
    """Serve ``respond`` on a free loopback port (HTTPS with ``cert``); stop at the end."""
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            parts = urlsplit(self.path)
            req = Request(parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()},
                          {k.lower(): v for k, v in self.headers.items()})
            with lock:
                stub.requests.append(req)
                stub.in_flight += 1
                stub.max_in_flight = max(stub.max_in_flight, stub.in_flight)
            try:
                status, body, extra = respond(req)
            finally:
                with lock:
                    stub.in_flight -= 1
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in extra.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        do_POST = do_GET  # noqa: N815

        def log_message(self, *args) -> None:  # keep test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    scheme = "http"
    if cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*map(str, cert))
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    stub = Stub(f"{scheme}://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (and its key), made with Debian's ``openssl``."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key
