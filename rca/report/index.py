"""``reports/index.html``: every day's report with its incident count and top causes.

Why built from the ``YYYY-MM-DD.json`` files beside the pages rather than from the store:
the reports folder is what gets published (a web server, a ticket, a shared drive), so
the index must describe exactly the pages that are there, and rebuilding it costs a read
of a few small files. A day whose JSON cannot be read is listed as such, never dropped.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from rca.report.render import _ENV, write_report

__all__ = ["day_summary", "write_index"]

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def day_summary(result: dict[str, Any]) -> list[tuple[str, int]]:
    """(cause id, incidents it ranks first in), most first: a day at a glance."""
    tops = Counter()
    for inc in result.get("incidents") or []:
        causes = [c for c in inc.get("causes") or [] if c.get("status") == "ok"]
        tops[causes[0]["id"] if causes and not inc.get("unexplained") else "unexplained"] += 1
    return sorted(tops.items(), key=lambda kv: (-kv[1], kv[0]))


def write_index(folder: Path) -> Path:
    """Rewrite ``folder/index.html`` from the day JSON files in it (atomically)."""
    days = [_day(p) for p in sorted(Path(folder).glob("*.json"), reverse=True)
            if _DAY.match(p.stem)]
    zones = sorted({d["tz"] for d in days if d["tz"]}) or ["unknown"]
    html = _ENV.get_template("index.html.j2").render(days=days, zones=", ".join(zones))
    return write_report(html, Path(folder) / "index.html")


def _day(path: Path) -> dict[str, Any]:
    html = path.with_suffix(".html")
    row = {"day": path.stem, "json": path.name, "html": html.name if html.exists() else "",
           "context": "", "tz": "", "incidents": 0, "causes": []}
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
        row.update(context=str(result.get("context") or ""), tz=str(result.get("tz") or ""),
                   incidents=len(result.get("incidents") or []), causes=day_summary(result))
    except (OSError, ValueError, AttributeError, TypeError) as exc:
        row["causes"] = [(f"unreadable: {type(exc).__name__}", 0)]
    return row
