"""Fixtures shared across test folders: built-in replay days collected into a store once
per test session (generating and collecting a day takes seconds; several tests read it)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from rca.cli import main
from rca.commands import replay_flags
from rca.replay import builtin, generate


class ReplayStore:
    """A collected built-in day: its store, its window and its answer key."""

    def __init__(self, root: Path, scenario: Path) -> None:
        self.root, self.scenario = root, scenario
        self.expected = json.loads((scenario / "expected.json").read_text())
        self.tz = self.expected["tz"]
        self.since = self.expected["window"]["since"]
        self.until = self.expected["window"]["until"]

    def flags(self) -> list[str]:
        """The common CLI flags that point a command at this store and window."""
        return ["--store", str(self.root), "--since", self.since, "--until", self.until,
                "--tz", self.tz]


@pytest.fixture(scope="session")
def replay_store(tmp_path_factory):
    """``replay_store(name)``: the built-in day ``name`` collected into a store (cached)."""
    made: dict[str, ReplayStore] = {}

    def get(name: str = "2021-08-23") -> ReplayStore:
        if name not in made:
            work = tmp_path_factory.mktemp(f"replay-{name}")
            scenario = generate(builtin(name), work / name)
            store = ReplayStore(work / "store", scenario)
            code = main(["collect", *store.flags(), *replay_flags(scenario)])
            assert code == 0, f"collecting the {name} replay failed"
            made[name] = store
        return made[name]

    return get


class _Hook(BaseHTTPRequestHandler):
    """An incoming webhook stand-in: records each POST, answers ``server.status``."""

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.posts.append((self.path, self.headers.get("Content-Type"), body))
        self.server.bodies.append(json.loads(body))
        self.send_response(self.server.status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def hook():
    """A local HTTP server on 127.0.0.1 taking webhook posts; ``hook.url`` carries a
    secret-looking path, ``hook.status`` is what it answers, ``hook.bodies`` what it got."""
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    server.posts, server.bodies, server.status = [], [], 200
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_port}/services/T0/B0/s3cr3tp4th"
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
