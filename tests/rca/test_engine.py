"""The engine: every cause runs, a failing one is isolated, missing inputs are *no data*."""

import pandas as pd

from rca import engine
from rca.causes.base import Cause, table
from rca.config import load
from rca.finding import Finding, Record
from rca.store import Store
from tests.rca.frames import T0, req, requests


def _cause(ident, needs=("requests",), score=0.5, boom=False):
    def judge(window, th):
        if boom:
            raise RuntimeError("bad data shape")
        return Finding(ident, score, f"{ident} looked at {len(window.during('requests'))} rows")

    return Cause(ident, judge, "fix it", needs=tuple(table(n) for n in needs))


def _record(rows, hours=3) -> Record:
    return Record({"requests": requests(rows)}, T0, T0 + pd.Timedelta(hours=hours))


def _rows():
    rows = [req(t, "svc") for t in range(0, 7200, 30)]
    return rows + [req(7000 + i * 5, "svc", "timeout", 12.0) for i in range(5)]


def test_failing_cause_is_isolated_and_missing_input_is_no_data():
    causes = {c.id: c for c in (_cause("a.ok", score=0.4), _cause("b.boom", boom=True),
                                _cause("c.needs_events", needs=("events",), score=0.9),
                                _cause("d.best", score=0.8))}
    cfg = load(overrides={"tz": "UTC"})
    result = engine.analyze(_record(_rows()), cfg, causes)
    (inc,) = result.incidents
    assert [(f.id, f.status) for f in inc.causes] == [
        ("d.best", "ok"), ("a.ok", "ok"), ("c.needs_events", "no_data"), ("b.boom", "error")]
    boom = inc.causes[-1]
    assert "RuntimeError: bad data shape" in boom.summary and boom.score == 0
    assert "events not collected" in inc.causes[2].summary
    assert any(g["source"] == "events" for g in result.gaps)


def test_only_filter_runs_the_named_causes():
    from rca.causes import select

    registry = {"a.ok": _cause("a.ok"), "d.best": _cause("d.best")}
    cfg = load(overrides={"tz": "UTC"})
    result = engine.analyze(_record(_rows()), cfg, select(["a.ok"], registry))
    assert [f.id for f in result.incidents[0].causes] == ["a.ok"]


def test_load_record_reaches_back_one_baseline(tmp_path):
    store = Store(tmp_path)
    store.write("requests", requests(_rows()))
    cfg = load(overrides={"tz": "UTC"})
    since = T0 + pd.Timedelta(hours=1)
    rec = engine.load_record(store, since, T0 + pd.Timedelta(hours=3), cfg)
    assert rec.tables["requests"].index.min() == T0  # the hour before `since` is there
    assert len(engine.analyze(rec, cfg).incidents) == 1


def test_unjudged_causes_with_supporting_hints_rank_first_among_unjudged():
    from rca.finding import Evidence

    hinted = Finding("z.hinted", 0.0, "", status="no_data",
                     evidence=[Evidence(True, "shared scope")])
    bare = Finding("a.bare", 0.0, "", status="no_data")
    judged = Finding("m.judged", 0.1, "")
    assert [f.id for f in engine._rank([bare, hinted, judged])] == [
        "m.judged", "z.hinted", "a.bare"]


def test_baseline_leaves_out_an_earlier_incident():
    seen = {}

    def judge(window, th):
        seen[window.start] = window.before("requests")
        return Finding("a.probe", 0.5, "")

    causes = {"a.probe": Cause("a.probe", judge, "", needs=(table("requests"),))}
    rows = [req(t, "svc") for t in range(0, 7200, 30)]
    rows += [req(5000 + i * 5, "svc", "timeout", 12.0) for i in range(5)]  # first burst
    rows += [req(7000 + i * 5, "svc", "timeout", 12.0) for i in range(5)]  # second burst
    result = engine.analyze(_record(rows), load(overrides={"tz": "UTC"}), causes)
    assert len(result.incidents) == 2
    second = seen[max(seen)]
    assert not (second["status"] == "timeout").any()  # the first burst is not "normal"
    assert len(second) > 50  # the rest of the hour is still there


def test_a_cause_that_finds_its_input_empty_is_no_data_with_what_it_lacked():
    def judge_(window, th):
        return Finding("e.empty", 0.7, "no server-side log of the failing services",
                       status="no_data")

    from rca.finding import Window

    window = Window(T0 + pd.Timedelta(hours=1), T0 + pd.Timedelta(hours=2), T0,
                    {"requests": requests(_rows())})
    f = engine.judge(Cause("e.empty", judge_, "fix", needs=(table("requests"),)), window)
    assert (f.status, f.score) == ("no_data", 0.0)
    assert f.summary == "no server-side log of the failing services"  # said once, as is
    assert f.missing == ["no server-side log of the failing services"]
