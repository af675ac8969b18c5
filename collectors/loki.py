"""Loki as a live source: the lines of LogQL stream selectors, through the same log parsers.

Why pull raw lines and parse them here instead of LogQL metric queries: the causes need
request rows (latency, status, station, service), which only the log parsers
(``collectors.logs``) make; the lines Loki holds are the lines a file would hold.

How a window is read, within the limits a Loki server enforces:

* ``query_range`` with ``direction=forward`` returns at most ``limit`` entries, oldest
  first across all streams; the next page starts at the newest timestamp returned
  (``start`` is inclusive), skipping the entries of that nanosecond already taken, so
  nothing is lost or read twice;
* a window longer than ``max_range_s`` is read in chunks; a 400 saying the range is too
  long (``max_query_length``) halves the chunk and tries again;
* 429 (rate limited) and 5xx are retried with exponential backoff and jitter, honouring
  ``Retry-After``, at most ``retries`` times; then the rest of that chunk is a named gap,
  and the next chunk is still read.

Row ids hash the stream's labels, the entry's timestamp and the line: Loki itself drops an
entry identical in all three, so they name an entry, and re-collecting stores nothing new.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType

import pandas as pd
import requests

from collectors import http_auth
from collectors.base import Batch, Malformed, ParseContext
from collectors.logs import DETECT_LINES, FORMATS, detect_lines
from collectors.logs.reader import parse_lines
from rca import live, record
from rca.config import Config

__all__ = ["LokiSource", "Settings", "settings_from"]

NAME = "loki"
#: The shortest chunk worth asking for after repeated "range too long" answers.
_MIN_CHUNK_NS = 60 * 10**9


@dataclass(frozen=True)
class Settings:
    url: str
    queries: tuple[str, ...]
    headers: dict[str, str] = field(default_factory=dict, repr=False)  # may hold secrets
    verify: bool | str = True
    fmt: str = "auto"
    limit: int = 5000
    max_range_s: int = 86_400
    timeout_s: float = 60.0
    retries: int = 5
    backoff_s: float = 1.0
    backoff_max_s: float = 30.0


def settings_from(config: Config, flags: live.Flags) -> Settings | None:
    sec = config.get("sources.loki")
    url = flags.get("loki", sec["url"])
    if not url:
        return None
    queries = tuple(flags.get("logql", sec["logql"]))
    if not queries:
        raise live.SourceError("loki: no LogQL selector: give --logql '{app=\"…\"}' or "
                               "sources.loki.logql")
    if sec["format"] != "auto" and sec["format"] not in FORMATS:
        raise live.SourceError(f"sources.loki.format: {sec['format']!r} is not one of "
                               f"auto, {', '.join(FORMATS)}")
    try:
        return Settings(
            url=url.rstrip("/"), queries=queries,
            headers=http_auth.headers(sec["headers"], sec["bearer_token_file"],
                                      sec["bearer_token_env"], NAME),
            verify=http_auth.verify(sec["ca_file"], bool(flags.get("insecure", sec["insecure"]))),
            fmt=sec["format"], limit=int(sec["limit"]), max_range_s=int(sec["max_range_s"]),
            timeout_s=float(sec["timeout_s"]), retries=int(sec["retries"]),
            backoff_s=float(sec["backoff_s"]), backoff_max_s=float(sec["backoff_max_s"]))
    except http_auth.AuthError as exc:
        raise live.SourceError(f"loki: {exc}") from None


class _Refused(Exception):
    """The server answered with an error that retrying will not fix (text, redacted)."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status


class LokiSource:
    """The lines of each LogQL selector for a window, parsed into record rows."""

    def __init__(self, settings: Settings, session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings = settings
        self.name = f"{NAME} {http_auth.redact(settings.url, {})}"
        self.session = session or requests.Session()
        self.session.verify = settings.verify
        self._sleep = sleep
        self._formats: dict[str, ModuleType] = {}

    def fetch(self, since: pd.Timestamp, until: pd.Timestamp,
              ctx: ParseContext) -> Iterator[Batch]:
        """One batch per selector and chunk of the window."""
        chunk_ns = self.settings.max_range_s * 10**9
        for query in self.settings.queries:
            start, end = since.as_unit("ns").value, until.as_unit("ns").value
            while start < end:
                stop = min(end, start + chunk_ns)
                batch = Batch(source=f"{NAME}: {query}")
                try:
                    self._read_chunk(query, start, stop, batch, ctx)
                except _Refused as exc:
                    if exc.status == 400 and _too_long(str(exc)) and stop - start > _MIN_CHUNK_NS:
                        chunk_ns = max(_MIN_CHUNK_NS, (stop - start) // 2)
                        continue  # the same start again, with half the range
                    # a refusal (bad LogQL, 401/403) holds for the rest of the window too
                    final = 400 <= exc.status < 500
                    batch.gaps.append(live.Gap(NAME, f"logql {query}", str(exc), _ts(start),
                                               _ts(end if final else stop)))
                    if final:
                        yield batch
                        break
                yield batch
                start = stop

    def _read_chunk(self, query: str, start: int, end: int, batch: Batch,
                    ctx: ParseContext) -> None:
        """Every entry of [start, end), page by page; an error leaves the rest as a gap."""
        taken_at_edge: set[tuple[str, str]] = set()
        while start < end:
            streams = self._page(query, start, end)
            entries = sorted((int(ts), record.canonical_labels(s.get("stream", {})), line)
                             for s in streams for ts, line in s.get("values", []))
            fresh = [e for e in entries if (e[1], e[2]) not in taken_at_edge or e[0] != start]
            self._parse(fresh, batch, ctx, int(ctx.settings.get("show_malformed", 3)))
            if len(entries) < self.settings.limit:
                return
            newest = entries[-1][0]
            if newest == start and not fresh:
                batch.gaps.append(live.Gap(NAME, f"logql {query}", "more than limit lines "
                                           "in one nanosecond; some skipped",
                                           _ts(start), _ts(start + 1)))
                newest += 1
            taken_at_edge = {(s, line) for ts, s, line in entries if ts == newest}
            start = newest

    def _page(self, query: str, start: int, end: int) -> list[dict]:
        params = {"query": query, "start": str(start), "end": str(end),
                  "limit": str(self.settings.limit), "direction": "forward"}
        for attempt in range(self.settings.retries + 1):
            try:
                resp = self.session.get(f"{self.settings.url}/loki/api/v1/query_range",
                                        params=params, headers=self.settings.headers,
                                        timeout=self.settings.timeout_s)
            except requests.RequestException as exc:
                reason, wait = f"cannot connect: {type(exc).__name__}", None
            else:
                if resp.status_code == 200:
                    return _streams(resp)
                reason = f"HTTP {resp.status_code}: {resp.text.strip()[:300]}"
                if resp.status_code != 429 and resp.status_code < 500:
                    raise _Refused(resp.status_code,
                                   http_auth.redact(reason, self.settings.headers))
                wait = _retry_after(resp)
            if attempt < self.settings.retries:
                self._sleep(self._backoff(attempt, wait))
        # worded as the other live sources word it, so one failure reads one way
        tries = f" (tried {self.settings.retries + 1} times)" if self.settings.retries else ""
        raise _Refused(0, http_auth.redact(reason + tries, self.settings.headers))

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        """Exponential, with full jitter on its upper half, capped; Retry-After wins."""
        s = self.settings
        if retry_after is not None:
            return min(retry_after, s.backoff_max_s)
        ceiling = min(s.backoff_max_s, s.backoff_s * 2**attempt)
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def _parse(self, entries: list[tuple[int, str, str]], batch: Batch, ctx: ParseContext,
               keep: int) -> None:
        by_stream: dict[str, list[tuple[int, str]]] = {}
        for ts, stream, line in entries:
            if line.strip():
                by_stream.setdefault(stream, []).append((ts, line.strip()))
        for stream, lines in by_stream.items():
            module = self._parser(stream, lines, batch, keep)
            if module is None:
                continue
            parse_lines(lines, module, ctx, keep, batch,
                        lambda ts, text, stream=stream: (stream, ts, text),
                        lambda ts, stream=stream: f"loki {stream}@{_ts(ts).isoformat()}")

    def _parser(self, stream: str, lines: list[tuple[int, str]], batch: Batch,
                keep: int) -> ModuleType | None:
        """The stream's parser: the configured format, or detected once from its lines."""
        if stream not in self._formats:
            fmt = self.settings.fmt
            if fmt == "auto":
                try:
                    fmt = detect_lines([t for _, t in lines[:DETECT_LINES]], f"loki {stream}")
                except ValueError as exc:
                    batch.add_malformed(Malformed(batch.source, lines[0][0], "format",
                                                  str(exc), lines[0][1][:200]), keep)
                    batch.lines += len(lines)
                    batch.malformed += len(lines) - 1
                    return None
            self._formats[stream] = FORMATS[fmt]
        return self._formats[stream]


def _streams(resp: requests.Response) -> list[dict]:
    body = resp.json()
    data = body.get("data", {})
    if data.get("resultType") != "streams":
        raise _Refused(200, f"expected resultType streams, got {data.get('resultType')!r}: "
                       "the selector must be a log query, not a metric query")
    return data.get("result", [])


def _too_long(text: str) -> bool:
    """Loki's answer to a range over ``max_query_length`` (wording of 2.x and 3.x)."""
    text = text.lower()
    return "time range exceeds" in text or "query length" in text


def _retry_after(resp: requests.Response) -> float | None:
    try:
        return max(0.0, float(resp.headers.get("Retry-After", "")))
    except ValueError:
        return None


def _ts(ns: int) -> pd.Timestamp:
    return pd.Timestamp(ns, tz="UTC")


def live_sources(config: Config, flags: live.Flags) -> list[LokiSource]:
    settings = settings_from(config, flags)
    return [LokiSource(settings)] if settings else []
