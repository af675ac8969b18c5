"""The command line: shared options, clear errors, config provenance."""

import json
from pathlib import Path

import pytest

from rca.cli import main


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RCA_CONFIG", raising=False)


def test_config_shows_context_and_origin(tmp_path, capsys):
    (tmp_path / "rca.yaml").write_text("context: dev\n")
    assert main(["config", "-o", "json"]) == 0
    captured = capsys.readouterr()
    rows = {r["key"]: r for r in json.loads(captured.out)}
    assert rows["context"] == {"key": "context", "value": "dev", "origin": "rca.yaml"}
    assert "context=dev (rca.yaml)" in captured.err  # the banner on every run


def test_bad_since_is_a_clear_error(capsys):
    assert main(["analyze", "--since", "last tuesday-ish"]) == 2
    assert "cannot read time" in capsys.readouterr().err


def test_since_after_until_is_refused(capsys):
    code = main(["analyze", "--since", "2021-08-24T00:00:00+08:00",
                 "--until", "2021-08-23T00:00:00+08:00"])
    assert code == 2
    assert "must be before" in capsys.readouterr().err


def test_collect_without_sources_says_what_to_give(capsys):
    assert main(["collect", "--since", "1h"]) == 2
    err = capsys.readouterr().err
    assert "--kube, --metrics-file, --logs, --prometheus or --loki" in err
    assert "sources: in rca.yaml" in err


def test_a_bad_live_option_is_a_usage_error(capsys):
    assert main(["collect", "--since", "1h", "--prometheus", "http://127.0.0.1:1",
                 "--prometheus-header", "no-equals-sign"]) == 2
    assert "expected NAME=VALUE" in capsys.readouterr().err


def test_collect_glob_matching_nothing_is_an_error(tmp_path, capsys):
    assert main(["collect", "--logs", str(tmp_path / "nope-*.log")]) == 2
    assert "no file matches" in capsys.readouterr().err


def test_analyze_window_without_data_reports_gaps_not_health(tmp_path, capsys):
    log = Path(__file__).resolve().parents[1] / "data" / "logs" / "ingress-nginx.log"
    assert main(["collect", "--store", str(tmp_path / "s"), "--logs", str(log),
                 "--since", "2021-08-23T00:00:00Z", "--until", "2021-08-24T00:00:00Z"]) == 0
    capsys.readouterr()
    code = main(["analyze", "--store", str(tmp_path / "s"), "--since", "2021-08-20T00:00:00",
                 "--until", "2021-08-21T00:00:00", "--tz", "Asia/Shanghai", "-o", "json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["incidents"] == []
    assert {g["source"] for g in out["gaps"]} >= {"requests", "metrics"}
    assert out["window"]["since"] == "2021-08-20T00:00:00+08:00"


def test_unknown_output_format_is_refused(capsys):
    assert main(["config", "-o", "xml"]) == 2
    assert "choose table or json" in capsys.readouterr().err


def test_analyze_missing_store_says_so(tmp_path, capsys):
    assert main(["analyze", "--store", str(tmp_path / "nope")]) == 2
    assert "not found" in capsys.readouterr().err


def test_daily_window_follows_the_calendar_across_dst():
    from datetime import date

    from rca.commands import _local_midnight
    from rca.timeutil import get_zone

    berlin = get_zone("Europe/Berlin")
    # 2021-03-28 lost an hour in Berlin: the local day is 23 hours long
    start = _local_midnight(date(2021, 3, 28), berlin)
    end = _local_midnight(date(2021, 3, 29), berlin)
    assert str(start) == "2021-03-27 23:00:00+00:00"
    assert (end - start).total_seconds() == 23 * 3600
