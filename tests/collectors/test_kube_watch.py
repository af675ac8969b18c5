"""``rca watch`` against the stand-in API server: count updates kept, resume from the saved
resourceVersion, a stream that drops mid-way, 410 on a compacted version, bounded retries."""

import copy
import json
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
from dateutil import tz

from collectors.base import ParseContext
from collectors.kube_api import connect
from collectors.kube_watch import Watcher
from rca import cli
from rca.live import LiveError
from rca.store import Store
from tests.collectors.kube_api_server import (
    TOKEN,
    as_core_event,
    kubeconfig_text,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "kube"


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "store")


def fixture_event(reason="Unhealthy"):
    """The recorded rgw liveness-probe failure (x249), as core/v1 serves it."""
    items = json.loads((DATA / "events-rook-ceph.json").read_text())["items"]
    return as_core_event(next(e for e in items if e["reason"] == reason))


def repeated(event, count, last):
    """The same Event seen again: the API server bumps count and lastTimestamp."""
    event = copy.deepcopy(event)
    event.update(count=count, lastTimestamp=last)
    return event


def new_event(name, uid, last):
    event = fixture_event()
    event["metadata"].update(name=name, uid=uid)
    return repeated(event, 1, last)


@contextmanager
def started(argv, **kw):
    """A program run for one test, killed by its PID if the test leaves it running."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **kw)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def wait_for(ready, proc, seconds=30.0):
    deadline = time.monotonic() + seconds
    while not ready():
        assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read()
        time.sleep(0.05)


def watcher(kubeconfig, store, sleeps=None, **kw):
    return Watcher(connect(str(kubeconfig)), store, tz.gettz("UTC"),
                   sleep=(sleeps.append if sleeps is not None else lambda s: None), **kw)


def events(store):
    return store.load("events").set_index("row_id", drop=False)


def test_lists_then_keeps_count_updates_and_new_events(kubeconfig, api, store):
    first = watcher(kubeconfig, store).run(once=True)
    assert (first.listed, first.changes, first.connections) == (4, 0, 1)
    base = fixture_event()
    api.change("MODIFIED", repeated(base, 300, "2021-08-23T03:10:00Z"))
    api.change("ADDED", new_event("rgw.2", "uid-new-1", "2021-08-23T03:11:00Z"))
    last_rv = api.change("DELETED", base)  # the TTL expiring: the row stays
    stats = watcher(kubeconfig, store).run(once=True)
    assert (stats.listed, stats.changes, stats.connections) == (0, 2, 1)
    rows = events(store)
    unhealthy = rows[(rows["reason"] == "Unhealthy") & (rows["kind"] == "Pod")]
    assert list(unhealthy["count"]) == [300, 1]  # updated in place, and the new one
    assert len(rows) == 5  # 4 listed + 1 added; the update replaced its row
    saved = json.loads((store.root / "watch" / "events.json").read_text())
    assert saved == {"resourceVersion": str(last_rv)}


def test_resumes_from_the_saved_version_without_listing_again(kubeconfig, api, store):
    watcher(kubeconfig, store).run(once=True)
    api.change("ADDED", new_event("rgw.3", "uid-new-2", "2021-08-23T03:20:00Z"))
    stats = watcher(kubeconfig, store).run(once=True)
    assert (stats.listed, stats.changes, stats.relists) == (0, 1, 0)
    assert len(events(store)) == 5
    watch_requests = [r for r in api.state.requests if "watch=true" in r]
    assert "resourceVersion=" in watch_requests[-1] and "resourceVersion=&" not in \
        watch_requests[-1]


def test_survives_a_stream_that_drops_mid_way(kubeconfig, api, store):
    watcher(kubeconfig, store).run(once=True)
    for i in range(3):
        api.change("ADDED", new_event(f"e{i}", f"uid-drop-{i}", f"2021-08-23T03:3{i}:00Z"))
    api.state.drop_after = 1  # every connection breaks after one change
    sleeps = []
    stats = watcher(kubeconfig, store, sleeps).run(once=True)
    # two connections broke after one change each; the third delivered the last cleanly
    assert stats.changes == 3 and stats.reconnects == 2 and stats.connections == 3
    assert sleeps == [0.5, 0.5]  # each reconnect succeeded: the backoff reset
    assert len(events(store)) == 4 + 3  # nothing lost, nothing twice


def test_compacted_version_relists(kubeconfig, api, store):
    watcher(kubeconfig, store).run(once=True)
    api.state.compacted_rv = api.state.rv + 1  # the saved version is now too old
    api.state.rv += 5
    api.state.changes.clear()
    stats = watcher(kubeconfig, store).run(once=True)
    assert stats.relists == 1 and stats.listed == 4
    assert int(stats.resource_version) == api.state.rv
    assert len(events(store)) == 4


def test_gives_up_after_bounded_retries_with_capped_backoff(tmp_path, kube_cert, store):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path = tmp_path / "kubeconfig"
    path.write_text(kubeconfig_text(f"https://127.0.0.1:{port}", TOKEN, kube_cert[0]))
    sleeps = []
    w = watcher(path, store, sleeps, max_failures=6, backoff_cap_s=4.0)
    with pytest.raises(LiveError, match="gave up after 6 failed reconnects"):
        w.run()
    assert sleeps == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_refused_credentials_stop_at_once(kubeconfig, api, store):
    api.state.token = "rotated"
    sleeps = []
    with pytest.raises(LiveError, match="401"):
        watcher(kubeconfig, store, sleeps).run()
    assert sleeps == []


def test_rca_watch_command(kubeconfig, api, tmp_path, capsys):
    api.change("ADDED", new_event("rgw.9", "uid-new-9", "2021-08-23T03:40:00Z"))  # listed
    code = cli.main(["watch", "--once", "--kubeconfig", str(kubeconfig),
                     "--store", str(tmp_path / "s"), "-o", "json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    stats = json.loads(out.out)
    assert (stats["listed"], stats["changes"], stats["new_rows"]) == (5, 0, 5)
    assert TOKEN not in out.out + out.err


def _watch_gaps(store_dir):
    return [g for rec in Store(store_dir).collections() for g in rec.get("gaps", [])]


def test_rca_watch_stopped_by_refused_credentials_leaves_a_gap(kubeconfig, api, tmp_path,
                                                              capsys):
    api.state.token = "rotated"
    before = pd.Timestamp.now(tz="UTC")
    code = cli.main(["watch", "--kubeconfig", str(kubeconfig), "--store", str(tmp_path / "s")])
    assert code == 1
    [gap] = _watch_gaps(tmp_path / "s")
    assert gap["source"] == "kube" and "401" in gap["reason"]
    assert before <= pd.Timestamp(gap["since"]) <= pd.Timestamp(gap["until"])
    assert TOKEN not in json.dumps(gap) + capsys.readouterr().err


def test_rca_watch_giving_up_leaves_a_gap(kubeconfig, api, tmp_path, capsys):
    """Followed once, then the API stops answering: the retrying watcher gives up and
    names the span from its last answer (here none: its own start) to the give-up."""
    store_dir = tmp_path / "s"
    assert cli.main(["watch", "--once", "--kubeconfig", str(kubeconfig),
                     "--store", str(store_dir), "-o", "json"]) == 0
    answered = pd.Timestamp(json.loads(capsys.readouterr().out)["last_contact"])
    assert _watch_gaps(store_dir) == []
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = tmp_path / "dead-kubeconfig"
    dead.write_text(kubeconfig.read_text().replace(api.url, f"https://127.0.0.1:{port}"))
    config = tmp_path / "rca.yaml"
    config.write_text(json.dumps({"sources": {"kube": {"watch": {
        "max_failures": 1, "backoff_cap_s": 0.01}}}}))
    code = cli.main(["watch", "--config", str(config), "--kubeconfig", str(dead),
                     "--store", str(store_dir)])
    assert code == 1
    [gap] = _watch_gaps(store_dir)
    assert "gave up after 1 failed reconnects" in gap["reason"]
    assert answered < pd.Timestamp(gap["since"]) < pd.Timestamp(gap["until"])


@pytest.mark.parametrize("waited, written", [
    (9.9, False),  # younger than flush_after_s: still pending (fewer writes under load)
    (10.0, True),  # as old as flush_after_s: written, so the store lags by seconds only
])
def test_pending_changes_are_written_after_flush_after_s(store, waited, written):
    clock = [0.0]
    w = Watcher(None, store, tz.gettz("UTC"), flush_every=1000, flush_after_s=10.0,
                now=lambda: clock[0])
    first, second = new_event("a", "uid-a", "2021-08-23T04:00:00Z"), \
        new_event("b", "uid-b", "2021-08-23T04:00:05Z")
    w._apply({"type": "ADDED", "object": first})
    clock[0] = waited
    w._apply({"type": "ADDED", "object": second})
    assert store.exists() == written
    if written:
        assert len(events(store)) == 2
        assert json.loads((store.root / "watch" / "events.json").read_text())[
            "resourceVersion"] == second["metadata"]["resourceVersion"]


def test_sigterm_stops_rca_watch_cleanly(kubeconfig, api, tmp_path):
    """The Deployment's pod is replaced with SIGTERM: the watcher writes what it has and
    exits 0 with its figures, instead of dying mid-write."""
    import os
    import signal
    import sys

    argv = [sys.executable, "-m", "rca.cli", "watch", "--kubeconfig", str(kubeconfig),
            "--store", str(tmp_path / "s")]
    with started(argv, cwd=Path(__file__).resolve().parents[2], env={**os.environ}) as proc:
        wait_for(lambda: (tmp_path / "s" / "watch" / "events.json").exists(), proc)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert out.startswith("watch: listed 4, 0 change(s), 4 new row(s)")
    assert TOKEN not in out + err


def test_kubectl_watch_of_the_stand_in_gives_the_watcher_rows(kubeconfig, api, store, tmp_path):
    """Debian's kubectl follows the stand-in's watch stream (chunked JSON lines held open)
    and prints the change; read as a file, it gives the row the watcher stores."""
    import os

    from collectors.kube import read_kube
    from tests.collectors.kube_api_server import debian_kubectl

    before = api.state.rv
    api.state.hold_s = 3.0  # after kubectl connects: time for the change to follow
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "KUBECONFIG": str(kubeconfig)}
    argv = [debian_kubectl(), "get", "events", "--all-namespaces", "--watch-only",
            "-o", "json", "--request-timeout=30s"]
    with started(argv, env=env) as proc:
        wait_for(lambda: api.state.watch_connections > 0, proc)
        api.change("MODIFIED", repeated(fixture_event(), 300, "2021-08-23T03:10:00Z"))
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    docs, text = [], out.strip()
    while text:  # kubectl prints one JSON document per change
        doc, end = json.JSONDecoder().raw_decode(text)
        docs.append(doc)
        text = text[end:].strip()
    assert [d["count"] for d in docs] == [300]
    dump = tmp_path / "watched.json"
    dump.write_text(json.dumps({"kind": "List", "apiVersion": "v1", "items": docs}))
    from_kubectl = read_kube(dump, ParseContext("f", tz.gettz("UTC"), {
        "collected_at": pd.Timestamp("2021-08-23T04:00:00Z")})).frames["events"]

    api.state.hold_s = 0.0
    (store.root / "watch").mkdir(parents=True)
    (store.root / "watch" / "events.json").write_text(json.dumps({"resourceVersion": str(before)}))
    assert watcher(kubeconfig, store).run(once=True).changes == 1
    stored = events(store).loc[from_kubectl["row_id"]].drop(columns="row_id")
    pd.testing.assert_frame_equal(
        stored.reset_index(drop=True),
        from_kubectl.reset_index().set_index("row_id").reset_index(drop=True)[stored.columns],
        check_dtype=False)
