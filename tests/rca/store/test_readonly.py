"""As an unprivileged user: a read-only store can be analysed and reported on; a store or
report folder that cannot be written is one clear line and exit 2, never a traceback.

Runs ``rca`` as ``nobody`` in a subprocess, so it needs root (CI runs as root)."""

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from rca.store import Store
from tests.rca.store import store_v1
from tests.rca.store.helpers import requests

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="switching to the user nobody needs root")
WINDOW = ["--since", "2021-08-23T00:00:00Z", "--until", "2021-08-24T00:00:00Z", "--tz", "UTC"]


@pytest.fixture
def place():
    """A folder everyone can enter (pytest's own tmp folders are private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="rca-readonly-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


def _as_nobody(*argv, cwd):
    """Run ``rca argv`` as nobody in a forked child. Forked, not exec'd: the interpreter
    may live under root's private home, which nobody cannot enter; what ``rca`` imports
    lazily is imported before the switch for the same reason."""
    out, err = cwd / f".out-{os.getpid()}", cwd / f".err-{os.getpid()}"
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 70
        import traceback

        fo, fe = open(out, "w"), open(err, "w")  # noqa: SIM115 - the child exits below
        try:
            import codecs

            import rca.engine  # noqa: F401
            import rca.report  # noqa: F401
            from rca.cli import main

            for codec in ("unicode_escape", "raw_unicode_escape", "latin_1", "idna"):
                codecs.lookup(codec)

            user = pwd.getpwnam("nobody")
            os.chdir(cwd)
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            sys.stdout, sys.stderr = fo, fe
            code = main(list(argv))
        except BaseException as exc:  # noqa: BLE001 - reported through exit code and stderr
            fe.write("".join(traceback.format_exception(exc)))
            code = 71
        finally:
            fo.flush()
            fe.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    proc = subprocess.CompletedProcess(argv, os.waitstatus_to_exitcode(status),
                                       out.read_text(), err.read_text())
    out.unlink()
    err.unlink()
    return proc


def _one_clean_line(proc):
    lines = [x for x in proc.stderr.splitlines() if x.startswith("rca: error:")]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def _store(place):
    store = Store(place / "store")
    store.write("requests", requests(["2021-08-23T03:00:00Z", "2021-08-23T03:00:01Z"],
                                     ["a", "b"]))
    return store


def test_a_read_only_store_is_analysed_and_reported(place):
    _store(place)
    reports = place / "reports"
    reports.mkdir(mode=0o777)
    reports.chmod(0o777)
    got = _as_nobody("analyze", "--store", str(place / "store"), *WINDOW, "-o", "json",
                     cwd=place)
    assert got.returncode == 0, got.stderr
    assert '"incidents"' in got.stdout
    got = _as_nobody("report", "--store", str(place / "store"), *WINDOW, "-o", str(reports),
                     cwd=place)
    assert got.returncode == 0, got.stderr
    assert list(reports.glob("*.html"))


def test_collect_into_a_store_it_cannot_write_is_one_line_and_exit_2(place):
    _store(place)
    log = place / "a.jsonl"
    log.write_text('{"ts": "2021-08-23T03:00:00Z", "latency_ms": 5, "status": 200}\n')
    log.chmod(0o644)
    line = _one_clean_line(_as_nobody("collect", "--store", str(place / "store"), *WINDOW,
                                      "--logs", str(log), cwd=place))
    assert "not writable" in line and str(place / "store") in line


def test_a_report_folder_it_cannot_write_is_one_line_and_exit_2(place):
    _store(place)
    (place / "closed").mkdir(mode=0o755)
    line = _one_clean_line(_as_nobody("report", "--store", str(place / "store"), *WINDOW,
                                      "-o", str(place / "closed"), cwd=place))
    assert "cannot write the report" in line and "closed" in line


def test_a_read_only_store_of_the_old_layout_says_how_to_migrate(place):
    store = place / "store"
    store_v1.Store(store).write("requests", requests(["2021-08-23T03:00:00Z"], ["a"]))
    # rca 0.1 wrote its files readable by their owner only: say so, in one line
    line = _one_clean_line(_as_nobody("analyze", "--store", str(store), *WINDOW, cwd=place))
    assert "VERSION: cannot read" in line
    for path in store.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    line = _one_clean_line(_as_nobody("analyze", "--store", str(store), *WINDOW, cwd=place))
    assert f"rca compact --store {store}" in line and "one-file-per-day layout" in line
