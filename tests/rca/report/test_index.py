"""reports/index.html: every day with its incident count and top causes, escaped, and
self-contained (nothing fetched)."""

import json
import re

from rca.report.index import day_summary, write_index


def _day(folder, day, incidents, context="prod"):
    (folder / f"{day}.json").write_text(json.dumps(
        {"context": context, "tz": "Asia/Shanghai", "incidents": incidents}))
    (folder / f"{day}.html").write_text("<html></html>")


def _inc(cause, score=0.9, unexplained=""):
    return {"causes": [{"id": cause, "status": "ok", "score": score}],
            "unexplained": unexplained}


def test_top_causes_counted_and_weak_ones_called_unexplained():
    result = {"incidents": [_inc("dns.resolver_timeout"), _inc("dns.resolver_timeout"),
                            _inc("app.slow_response", 0.1, "no cause is convincing"),
                            {"causes": [{"id": "x", "status": "no_data"}]}]}
    assert day_summary(result) == [("dns.resolver_timeout", 2), ("unexplained", 2)]


def test_index_lists_days_newest_first_escaped_and_self_contained(tmp_path):
    _day(tmp_path, "2021-08-22", [])
    _day(tmp_path, "2021-08-23", [_inc("dns.resolver_timeout")] * 5)
    _day(tmp_path, "2021-08-24", [_inc("<script>alert(1)</script>")], context="<b>x</b>")
    (tmp_path / "2021-08-25.json").write_text("{not json")  # listed as unreadable
    (tmp_path / "notes.json").write_text("{}")  # not a day: left out
    html = write_index(tmp_path).read_text()
    days = re.findall(r'<a href="(\d{4}-\d{2}-\d{2})\.html">', html)
    assert days == ["2021-08-24", "2021-08-23", "2021-08-22"]
    assert "2021-08-25" in html and "unreadable: JSONDecodeError" in html
    assert "notes" not in html
    row = html[html.index("2021-08-23.html"):html.index("2021-08-22.html")]
    assert '<td class="n">5</td>' in row and "dns.resolver_timeout</code> ×5" in row
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing fetched
