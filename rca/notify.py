"""The daily run's message to a chat channel: a short summary posted to an incoming webhook.

Why ``{"text": …}`` and nothing else: it is the one body Slack, Mattermost and Microsoft
Teams incoming webhooks all accept, so one setting works whichever a team uses. Slack and
Mattermost read ``&``, ``<`` and ``>`` as markup, so values from the data are escaped.

Why a failure is returned, never raised: the report is already written when the post is
made; an unreachable chat server must not turn a finished daily run into a failed one
nor hide the report. The caller says the post failed; the URL is never printed (a webhook
URL is a credential: anyone holding it can post to the channel).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests

__all__ = ["TIMEOUT_S", "message", "post", "where"]

#: Seconds to wait for the chat server: a daily job must end even if it hangs.
TIMEOUT_S = 10.0
#: Incidents listed in the message; the rest are counted (a chat line, not a report).
MAX_LISTED = 5


def message(day: str, result: dict[str, Any], link: str) -> dict[str, str]:
    """The webhook body for one day's analysis."""
    incidents = result.get("incidents") or []
    context = _esc(str(result.get("context") or "unknown"))
    lines = [f"rca daily {day} ({context}): {len(incidents)} incident(s)"]
    for inc in incidents[:MAX_LISTED]:
        judged = [c for c in inc.get("causes") or [] if c.get("status") == "ok"]
        top = (f"{_esc(judged[0]['id'])} ({float(judged[0].get('score', 0)):.2f})"
               if judged and not inc.get("unexplained") else "unexplained")
        services = ", ".join(map(str, (inc.get("scope") or {}).get("services", [])[:4]))
        lines.append(f"• {_esc(str(inc.get('start', ''))[11:19])} {top}"
                     + (f" on {_esc(services)}" if services else ""))
    if len(incidents) > MAX_LISTED:
        lines.append(f"… and {len(incidents) - MAX_LISTED} more")
    lines.append(f"Report: {_esc(link)}")
    return {"text": "\n".join(lines)}


def post(url: str, body: dict[str, str], timeout: float = TIMEOUT_S) -> str | None:
    """POST ``body`` as JSON; ``None`` when the server took it, else why not."""
    try:
        resp = requests.post(url, json=body, timeout=timeout)
    except requests.RequestException as exc:
        return f"{type(exc).__name__} posting to {where(url)}"
    if resp.status_code >= 300:
        return f"{where(url)} answered HTTP {resp.status_code}"
    return None


def where(url: str) -> str:
    """The webhook's host only, for messages: its path is the secret."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}" + (f":{parts.port}" if parts.port else "")


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
