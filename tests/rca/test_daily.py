"""``rca daily``: one local day collected, analysed and reported, idempotent, exit 0
whatever was found, a webhook told (and a failed post never loses the report)."""

import json
from datetime import date, timedelta

import pandas as pd
import pytest

from rca.cli import main
from rca.commands import UsageError, _daily_date
from rca.timeutil import get_zone


def _daily(store, out, *extra, day="2021-08-23"):
    return main(["daily", "--store", str(store.root), "--tz", store.tz, "--date", day,
                 "-o", str(out), *extra])


def test_daily_collects_from_file_flags_and_a_rerun_changes_nothing(replay_store, tmp_path):
    # the replay's kubectl files only: a real collection, small enough to run twice
    src = replay_store("2021-08-23")
    kube = [f for p in sorted((src.scenario / "kube").glob("*.json")) for f in ("--kube", str(p))]
    store, out = tmp_path / "store", tmp_path / "reports"
    argv = ["daily", "--store", str(store), "--tz", src.tz, "--date", "2021-08-23", "-o",
            str(out), *kube]
    assert main(argv) == 0
    first = json.loads((out / "2021-08-23.json").read_text())
    rows = first["collection"]["tables"]
    assert rows["events"] > 0 and rows["objects"] > 0
    assert (out / "2021-08-23.html").exists() and (out / "index.html").exists()
    assert main(argv) == 0  # same day again: same store rows, same answer, same files
    again = json.loads((out / "2021-08-23.json").read_text())
    assert again["collection"]["tables"] == rows
    assert again["incidents"] == first["incidents"]
    assert sorted(p.name for p in out.iterdir()) == ["2021-08-23.html", "2021-08-23.json",
                                                    "index.html"]


def test_a_day_with_incidents_exits_zero_unless_asked_and_tells_the_hook(replay_store,
                                                                         tmp_path, hook):
    store = replay_store("2021-08-23")
    assert _daily(store, tmp_path, "--notify-webhook", hook.url, "--fail-on-incident") == 1
    assert len(json.loads((tmp_path / "2021-08-23.json").read_text())["incidents"]) == 5
    [body] = hook.bodies
    text = body["text"]
    assert "rca daily 2021-08-23" in text and "5 incident(s)" in text
    assert text.count("dns.resolver_timeout") == 5
    assert text.endswith(str((tmp_path / "2021-08-23.html").resolve()))
    # the day before holds no incident: exit 0 even with --fail-on-incident
    assert _daily(store, tmp_path, "--fail-on-incident", day="2021-08-22") == 0
    index = (tmp_path / "index.html").read_text()
    assert index.index("2021-08-23") < index.index("2021-08-22")  # both days, newest first


def test_the_webhook_from_config_links_the_published_report(replay_store, tmp_path, hook):
    store = replay_store("2021-08-23")
    cfg = tmp_path / "rca.yaml"
    cfg.write_text(f"daily:\n  notify_webhook: {hook.url}\n"
                   "  report_url: https://reports.example/rca/\n")
    assert _daily(store, tmp_path / "r", "--config", str(cfg), day="2021-08-22") == 0
    [body] = hook.bodies
    assert body["text"].startswith("rca daily 2021-08-22 (default): 0 incident(s)")
    assert body["text"].endswith("https://reports.example/rca/2021-08-22.html")


def test_a_failed_post_is_reported_and_the_report_stays(replay_store, tmp_path, hook, capsys):
    store = replay_store("2021-08-23")
    hook.status = 500
    capsys.readouterr()
    assert _daily(store, tmp_path, "--notify-webhook", hook.url, day="2021-08-22") == 0
    err = capsys.readouterr().err
    assert "webhook not notified" in err and "HTTP 500" in err and "s3cr3t" not in err
    assert json.loads((tmp_path / "2021-08-22.json").read_text())["incidents"] == []
    assert (tmp_path / "2021-08-22.html").stat().st_size > 1_000
    assert hook.bodies  # it was tried


def test_the_webhook_url_is_a_credential_in_rca_config(tmp_path, capsys):
    cfg = tmp_path / "rca.yaml"
    cfg.write_text("daily:\n  notify_webhook: https://hooks.example/services/T/B/s3cr3t\n")
    assert main(["config", "--config", str(cfg), "-o", "json"]) == 0
    out = capsys.readouterr().out
    assert "s3cr3t" not in out and "daily.notify_webhook" in out


@pytest.mark.parametrize("argv, words", [
    (["--date", "2021-13-01"], "--date '2021-13-01': give a day as YYYY-MM-DD"),
    (["--notify-webhook", "file:///etc/passwd"], "--notify-webhook must be an http(s) URL (got file://?)"),
])
def test_bad_daily_flags_are_one_line(tmp_path, capsys, argv, words):
    assert main(["daily", "--store", str(tmp_path), "-o", str(tmp_path / "r"), *argv]) == 2
    assert words in capsys.readouterr().err


def test_default_day_is_yesterday_in_the_users_zone():
    for name in ("Asia/Shanghai", "America/Los_Angeles"):
        zone = get_zone(name)
        assert _daily_date(None, zone) == pd.Timestamp.now(tz=zone).date() - timedelta(days=1)
    assert _daily_date("2021-08-23", get_zone("UTC")) == date(2021, 8, 23)
    with pytest.raises(UsageError):
        _daily_date("yesterday", get_zone("UTC"))
