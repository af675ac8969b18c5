"""The public API on the replay's store: what ``rca.open`` returns, its docstring
examples (run here as doctests), and that the commands answer exactly what it answers."""

import doctest
import json
from pathlib import Path

import pandas as pd
import pytest

import rca
import rca.api.incident
import rca.api.session
from rca.cli import main
from rca.store import StoreError


@pytest.fixture(scope="module")
def day(replay_store):
    store = replay_store("2021-08-23")
    return store, rca.open(store.root, since=store.since, until=store.until, tz=store.tz)


@pytest.mark.parametrize("module", [rca.api.session, rca.api.incident])
def test_docstring_examples_run(day, module):
    store, session = day
    result = doctest.testmod(module, extraglobs={"rca": rca, "STORE": str(store.root),
                                                 "s": session}, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 3 and result.failed == 0, result


def test_incidents_table_is_the_answer_key_in_the_users_zone(day):
    store, s = day
    df = s.incidents
    expected = store.expected["incidents"]
    assert list(df.index) == [i for i in df.index if i.startswith("INC-")]
    assert len(df) == len(expected) == 5
    for (_, row), exp in zip(df.iterrows(), expected, strict=True):
        assert row["start"].utcoffset() == pd.Timedelta(hours=8)
        assert abs(row["start"] - pd.Timestamp(exp["start"])) < pd.Timedelta(minutes=1)
        assert row["top_cause"] == exp["cause"] and row["explained"]
    assert (df["duration"] > pd.Timedelta(0)).all()


def test_incident_by_id_or_position_and_a_clear_error_otherwise(day):
    _, s = day
    first = s.incidents.index[0]
    assert s.incident(first).id == s.incident(0).id == first
    assert s.incident(-1).id == s.incidents.index[-1]
    with pytest.raises(KeyError, match="INC-20210823-030321"):  # the error lists the ids
        s.incident("INC-nope")
    with pytest.raises(IndexError, match="5 incident"):
        s.incident(5)


def test_incident_causes_evidence_and_suspects_are_the_engines(day):
    _, s = day
    inc = s.incident(2)  # 14:35, all six services
    causes = inc.causes
    assert list(causes["rank"]) == list(range(1, len(causes) + 1))
    assert causes.iloc[0]["cause"] == "dns.resolver_timeout" and causes.iloc[0]["score"] >= 0.6
    ev = inc.evidence
    top = ev[ev["cause"] == "dns.resolver_timeout"]
    assert top["supports"].sum() == causes.iloc[0]["for"] >= 2
    assert (ev["start"].dropna().map(lambda t: t.utcoffset()) == pd.Timedelta(hours=8)).all()
    assert inc.finding("dns.resolver_timeout").evidence  # the rows behind it
    sus = s.suspects(inc.id)
    assert list(sus.columns)[:2] == ["entity", "series"] and len(sus) >= 1
    assert sus["score"].is_monotonic_decreasing


def test_incident_requests_are_around_the_incident_and_filterable(day):
    _, s = day
    inc = s.incident(1)  # 13:29:54, the interior service (neishi) only
    reqs = inc.requests()
    assert reqs.index.min() >= inc.start - pd.Timedelta(minutes=5)
    assert reqs.index.max() <= inc.end + pd.Timedelta(minutes=5)
    timeouts = inc.requests(status="timeout")
    assert len(timeouts) >= 5 and set(timeouts["service"]) == {"neishi"}
    assert inc.requests(service="neishi", max_latency=1.0)["latency_s"].max() <= 1.0


def test_window_tables_and_signals(day):
    _, s = day
    reqs = s.requests()
    assert reqs.index.min() >= s.since and reqs.index.max() < s.until
    assert len(s.requests(station="gw01")) < len(reqs)
    sig = s.signal("conntrack_insert_failed_per_second")
    assert "node/infer-node1" in sig.columns and sig.index.tz is not None
    assert sig["node/infer-node1"].max() > 0.1  # the insert race is there on the day
    one = s.signal("conntrack_insert_failed_per_second", entity="node/infer-node1")
    assert list(one.columns) == ["node/infer-node1"]
    with pytest.raises(KeyError, match="declared: coredns_request_p99_seconds"):
        s.signal("no_such_signal")
    assert not s.metrics(name="node_load1").empty


def test_plot_draws_the_symptom_over_the_top_causes_signals(day):
    _, s = day
    inc = s.incident(0)
    fig = inc.plot()
    assert len(fig.axes) == 1 + len(inc.signals()) >= 3
    assert "Asia/Shanghai" in fig.axes[-1].get_xlabel()
    assert fig.axes[0].collections  # the request scatter was drawn
    assert len(inc.plot(signals=["node_load1"]).axes) == 2


def test_a_missing_store_or_an_empty_window_is_an_error_not_a_quiet_day(tmp_path, day):
    store, _ = day
    with pytest.raises(StoreError, match="not found"):
        rca.open(tmp_path / "nope", since="24h")
    with pytest.raises(ValueError, match="must be before"):
        rca.open(store.root, since=store.until, until=store.since, tz=store.tz)


def test_relative_since_counts_back_from_until(day):
    store, _ = day
    s = rca.open(store.root, since="6h", until=store.until, tz="UTC")
    assert s.until - s.since == pd.Timedelta(hours=6)
    assert s.since.utcoffset() == pd.Timedelta(0)


def test_analyze_json_is_the_sessions_answer(day, capsys):
    store, s = day
    capsys.readouterr()
    assert main(["analyze", *store.flags(), "-o", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    ours = s.to_dict()
    assert out["incidents"] == json.loads(json.dumps(ours["incidents"], default=str))


def test_the_readme_example_is_five_lines_that_run(day):
    store, _ = day
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    block = readme.split("```python\n", 1)[1].split("```", 1)[0]
    assert len(block.strip().splitlines()) == 5 and "rca.open(" in block
    code = block.replace('"rca-data"', repr(str(store.root))).replace(
        'since="24h"', f"since={store.since!r}, until={store.until!r}")
    ns: dict = {}
    exec(compile(code, "README.md", "exec"), ns)  # noqa: S102
    assert len(ns["s"].incidents) == 5 and not ns["inc"].causes.empty
