"""``rca lab``: refusal when it cannot run, the table, the argument."""

import os

import pytest

from rca import cli
from rca.lab.command import table
from rca.lab.run import Result


def test_not_root_is_one_error_line_and_exit_2(monkeypatch, capsys):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert cli.main(["lab", "control", "--quick"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("rca: error: rca lab needs root")


def test_a_missing_program_is_named(monkeypatch, capsys):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr("rca.lab.host.shutil.which", lambda tool, path=None: None)
    assert cli.main(["lab", "dns-drop"]) == 2
    assert "missing: ip, iptables" in capsys.readouterr().err


def test_unknown_scenario_is_an_argument_error(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["lab", "no-such-scenario"])
    assert exc.value.code == 2
    assert "dns-drop" in capsys.readouterr().err  # the choices are listed


def test_table_says_rank_window_and_verdict():
    from rich.console import Console

    rows = [Result("dns-drop", "dns.resolver_timeout", True, top="dns.resolver_timeout",
                   rank=1, incident=("2026-11-30T23:39:07+00:00", "2026-11-30T23:39:44+00:00"),
                   incidents=1, seconds=61.0, passed=True),
            Result("dns-drop+use-vc", "dns.resolver_timeout", False, seconds=60.0,
                   passed=True),
            Result("body-limit", "http.body_too_large", True, top="app.slow_response", rank=2,
                   incidents=1, seconds=62.0)]
    console = Console(width=200, record=True)
    console.print(table(rows))
    text = console.export_text()
    assert "23:39:07–23:39:44" in text and "PASS" in text
    assert "none (dns.resolver_timeout + fix)" in text
    assert "FAIL" in text and "app.slow_response" in text
