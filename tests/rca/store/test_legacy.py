"""Migration: a store written by rca 0.1's own code (layout 1) opens with every row."""

from pathlib import Path

import pandas as pd
import pytest

from collectors.base import ParseContext
from collectors.kube import read_kube
from collectors.logs import read_log
from collectors.metrics_file import read_metrics_file
from rca import record
from rca.store import Store
from rca.timeutil import get_zone
from tests.rca.store import store_v1
from tests.rca.store.helpers import as_strings, events, leftovers, parts

DATA = Path(__file__).resolve().parents[2] / "data"


def _v1_store(root: Path) -> dict[str, pd.DataFrame]:
    """Write real collector output through the 0.1 store, with the cases its merge handled
    (a re-collect, a changed row, an event that moved day); return what 0.1 loaded."""
    old = store_v1.Store(root)
    ctx = ParseContext("x", get_zone("Asia/Shanghai"),
                       {"collected_at": pd.Timestamp("2021-08-24T00:00:00Z")})
    batches = [read_log(p, "auto", ctx) for p in sorted((DATA / "logs").glob("*"))]
    batches += [read_kube(DATA / "kube" / "mixed.json", ctx),
                read_metrics_file(DATA / "metrics" / "node_exporter.om", ctx)]
    for _ in range(2):  # collected twice, as users do
        for batch in batches:
            for table, df in batch.frames.items():
                old.write(table, df)
    old.write("events", events(["2021-08-22T23:59:00Z"], ["moved"], count=1))
    old.write("events", events(["2021-08-23T00:01:00Z"], ["moved"], count=2))
    return {t: old.load(t) for t in record.TABLES}


def test_migration_keeps_every_row_as_layout_1_read_it(tmp_path):
    before = _v1_store(tmp_path)
    assert (tmp_path / "VERSION").read_text() == f"{record.SCHEMA_VERSION}\n"
    assert all(len(before[t]) for t in ("requests", "events", "metrics", "objects"))
    assert before["events"].loc[before["events"]["row_id"] == "moved", "count"].tolist() == [2]
    store = Store(tmp_path)
    for table, df in before.items():  # the first open (a read) migrates
        pd.testing.assert_frame_equal(as_strings(store.load(table)), df, check_freq=False)
    assert (tmp_path / "VERSION").read_text() == "3\n"
    assert list(tmp_path.glob("*/????-??-??.parquet")) == []  # layout 1 files gone
    assert parts(tmp_path) and leftovers(tmp_path) == []
    assert store.tables()["requests"] == len(before["requests"])
    assert store.write("requests", before["requests"]) == 0  # nothing new after migrating


def test_a_migration_killed_after_its_commit_is_finished_by_the_next_open(tmp_path,
                                                                         monkeypatch):
    before = _v1_store(tmp_path)
    monkeypatch.setattr("pathlib.Path.unlink", lambda self, missing_ok=False: None)
    monkeypatch.setattr("rca.store.atomic_write", _boom)  # killed before VERSION is raised
    with pytest.raises(Killed):
        Store(tmp_path).load("requests")
    monkeypatch.undo()
    assert (tmp_path / "VERSION").read_text() == f"{record.SCHEMA_VERSION}\n"
    store = Store(tmp_path)
    for table, df in before.items():
        pd.testing.assert_frame_equal(as_strings(store.load(table)), df, check_freq=False)
    assert (tmp_path / "VERSION").read_text() == "3\n"
    assert list(tmp_path.glob("*/????-??-??.parquet")) == []


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs."""


def _boom(*args, **kwargs):
    raise Killed
