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
    assert "--kube, --metrics-file or --logs" in err and "--prometheus, --loki" in err
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


# -- bad flags: one clear line and exit 2, never a traceback (issue 10, D10) ---------------
#: (argv, words the error must contain); {file} is a plain file, {dir} a folder, {binary}
#: a file that is not UTF-8, {bad_yaml} broken YAML (its error spans several lines).
BAD_FLAGS = [
    (["analyze", "--since", "9999999999d"], "--since: '9999999999d' reaches back"),
    (["collect", "--logs", "{file}", "--since", "9999999999d"], "reaches back"),
    (["analyze", "--since", "0001-01-01T00:00:00Z"], "--since: time '0001-01-01"),
    (["report", "--since", "0001-01-01T00:00:00Z"], "outside 1678-01-01"),
    (["analyze", "--until", "9999-12-31T00:00:00Z"], "--until: time '9999-12-31"),
    (["analyze", "--until", "2262-06-01T00:00:00Z"], "outside"),  # past pandas' own edge
    (["analyze", "--tz", "/etc/passwd"], "--tz: unknown time zone '/etc/passwd'"),
    (["analyze", "--tz", "../../../../etc/hostname"], "unknown time zone '../../"),
    (["analyze", "--tz", "zone.tab"], "unknown time zone"),  # a file among the zones
    (["analyze", "--tz", "Foo1"], "unknown time zone"),  # a POSIX TZ string, not a name
    (["analyze", "--tz", "UTC+99"], "beyond ±14:00"),
    (["report", "-o", "{file}"], "is a file; report -o takes a directory"),
    (["report", "-o", "{file}/sub"], "a parent of it is a file"),
    (["analyze", "--config", "{dir}"], "is a directory, not a YAML file"),
    (["analyze", "--config", "{binary}"], "cannot be read"),
    (["analyze", "--config", "{bad_yaml}"], "not valid YAML"),
    (["analyze", "--since=-5h"], "cannot be negative"),
    (["analyze", "--since", "0h"], "must be before"),
    (["analyze", "--since", "1e400h"], "cannot read time"),
    (["analyze", "--since", ""], "cannot read time"),
    (["analyze", "--since", "2021-08-23T00:00:00+99:00"], "cannot read time"),
    (["analyze", "-o", "xml"], "choose table or json"),
    (["collect", "--logs", "{file}", "-o", "yaml"], "choose table or json"),
    (["analyze", "--store", "{file}"], "is a file, not a directory"),
    (["collect", "--kube", "{dir}"], "is not a file"),
    (["demo", "--workdir", "{file}"], "--workdir"),  # was a NotADirectoryError traceback
    (["demo", "--reports", "{file}"], "is a file"),  # refused before the replay runs
    (["eval", "--min-recall", "nan", "{dir}"], "must be between 0 and 1"),
    (["eval", "--min-ac1", "2", "{dir}"], "must be between 0 and 1"),
    (["analyze", "--log-format", "rgw"], "unrecognized arguments"),  # argparse's own
    (["collect", "--log-format", "syslog"], "invalid choice"),
]


@pytest.mark.parametrize("argv,words", BAD_FLAGS, ids=[" ".join(a) for a, _ in BAD_FLAGS])
def test_bad_flag_is_one_clear_line_and_exit_2(argv, words, tmp_path, capsys):
    places = {"file": tmp_path / "a-file.txt", "dir": tmp_path, "binary": tmp_path / "b.yaml",
              "bad_yaml": tmp_path / "bad.yaml"}
    places["file"].write_text("not a directory\n")
    places["binary"].write_bytes(b"\xff\xfe\x00bad")
    places["bad_yaml"].write_text("context: dev\n  oops: [\n")
    argv = [a.format(**places) for a in argv]
    if "--store" not in argv:
        argv += ["--store", str(tmp_path / "store")]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own checks exit rather than return
        code = exc.code
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("rca: error:")]
    assert code == 2, err
    assert len(errors) == 1 and words in errors[0], err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 2, err
    assert not (tmp_path / "store").exists()  # refused before anything ran


def test_report_into_an_unwritable_place_is_a_clear_error(tmp_path, capsys):
    log = Path(__file__).resolve().parents[1] / "data" / "logs" / "ingress-nginx.log"
    window = ["--since", "2021-08-23T00:00:00Z", "--until", "2021-08-24T00:00:00Z"]
    assert main(["collect", "--store", str(tmp_path / "s"), "--logs", str(log), *window]) == 0
    capsys.readouterr()
    # /proc refuses new entries even to root: a real place where a report cannot go
    code = main(["report", "--store", str(tmp_path / "s"), *window, "-o", "/proc/rca-reports"])
    err = capsys.readouterr().err
    assert code == 2 and "-o /proc/rca-reports: cannot write the report there" in err


# -- data is never markup (D9) -------------------------------------------------------------
def _burst(services: list[str]) -> str:
    """Timeouts from two stations to each service within a minute: one incident."""
    lines = []
    for i in range(8):
        for service in services:
            lines.append(json.dumps({
                "ts": f"2021-08-23T03:03:{10 + i:02d}Z", "station": f"st-{i % 2}",
                "service": service, "latency_ms": 5000, "status": "timeout"}))
    return "\n".join(lines) + "\n"


def test_markup_and_control_characters_in_data_are_shown_as_written(tmp_path, capsys):
    odd = ["a[/]b", "c[red]d", "e\x1b[31mf"]
    log = tmp_path / "x[red]y.jsonl"  # relative: the table shows it whole
    log.write_text(_burst(odd) + "not json [bold]at all[/bold]\n")
    window = ["--since", "2021-08-23T00:00:00Z", "--until", "2021-08-24T00:00:00Z",
              "--tz", "UTC"]
    assert main(["collect", "--store", "s", "--logs", log.name, *window]) == 0
    out = capsys.readouterr()
    assert "x[red]y.jsonl" in out.out  # the file table
    assert "x[red]y.jsonl: 1 malformed" in out.err and "[bold]at all[/bold]" in out.err
    assert main(["analyze", "--store", "s", *window]) == 0  # was a MarkupError
    shown = capsys.readouterr().out
    assert "a[/]b" in shown and "c[red]d" in shown
    assert "\x1b" not in shown and "e\\x1b[31mf" in shown


def test_the_cli_leaves_the_replay_and_lab_unimported_until_demo_or_lab_needs_them(capsys):
    """Every ``rca collect`` starts a Python: the replay's and the lab's ~30 ms of imports
    each are ``demo``'s and ``lab``'s alone; their scenario names are still checked and
    listed."""
    import subprocess
    import sys

    loaded = subprocess.run([sys.executable, "-c", "import sys, rca.cli; "
                             "rca.cli.build_parser().parse_args(['collect', '--logs', 'x']); "
                             "print('rca.replay' in sys.modules, 'rca.lab.scenarios' in "
                             "sys.modules)"],
                            capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "False False"
    with pytest.raises(SystemExit) as exit_:
        main(["demo", "--scenario", "no-such-day"])
    assert exit_.value.code == 2
    assert "invalid choice: 'no-such-day' (choose from '2021-08-23'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["lab", "no-such-fault"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'no-such-fault'" in err and "'dns-drop'" in err and "'all'" in err
