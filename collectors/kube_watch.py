"""``rca watch``: follow the cluster's Events into the store before the API server drops them.

Why: the API server keeps an Event about one hour (``--event-ttl``). A liveness kill at
03:00 is gone by the time someone runs ``rca collect --since 24h`` at 09:00. The watcher
runs as a Deployment (``deploy/``), lists the Events once, then watches them and appends
each change to the store: a repeated Event comes back as MODIFIED with a higher count and
replaces its row (same row id, the store keeps the latest), so count updates are kept.

Resuming: the last resourceVersion written is saved in the store directory
(``watch/events.json``, written atomically *after* the rows it covers), so a restarted
watcher continues where it stopped. A dropped connection reconnects from there; a 410
(the version was compacted away) lists again. Failures back off exponentially up to a cap,
and after ``max_failures`` in a row the watcher exits non-zero so its pod restarts and the
crash loop is visible.

Rows are written every ``flush_every`` changes or ``flush_after_s`` seconds, whichever
comes first, so the store lags the cluster by seconds; a watcher killed in between loses
nothing, as the saved version is older than the unwritten changes and they are replayed.
With ``namespaces`` the watch is still cluster-wide (one connection) and other
namespaces' Events are dropped here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path

import pandas as pd

from collectors.base import ParseContext
from collectors.kube import KubeBatch, shape_items
from collectors.kube_api import (
    RESOURCES,
    Resource,
    Unreachable,
    classify_error,
    first_line,
    http_status,
    list_pages,
)
from rca.live import LiveError
from rca.store import Store
from rca.store.atomic import atomic_write

__all__ = ["WATCHED", "WatchStats", "Watcher"]

#: The resources followed (from the collector's own list, so RBAC follows it too).
WATCHED: tuple[Resource, ...] = tuple(r for r in RESOURCES if r.watch)


@dataclass
class WatchStats:
    """What one run did; ``rca watch`` prints it when it stops."""

    listed: int = 0
    changes: int = 0
    new_rows: int = 0  # rows the store had not seen (count updates replace, not add)
    connections: int = 0
    reconnects: int = 0  # connections that broke mid-stream
    relists: int = 0  # 410: the saved version was too old
    resource_version: str = ""
    #: when the API last answered (UTC, ISO): where a give-up's gap starts
    last_contact: str = ""


class Watcher:
    """Lists, then watches, one resource (core/v1 Events) into ``store``.

    ``sleep`` and ``now`` are passed in so tests run the backoff without waiting.
    """

    def __init__(self, api_client, store: Store, zone: tzinfo, *,
                 namespaces: list[str] | None = None, resource: Resource = WATCHED[0],
                 flush_every: int = 200, flush_after_s: float = 10.0,
                 max_failures: int = 8, backoff_cap_s: float = 60.0,
                 server_timeout_s: int = 300,
                 sleep: Callable[[float], None] = time.sleep,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.api_client, self.store, self.zone = api_client, store, zone
        self.namespaces = set(namespaces or [])
        self.resource = resource
        self.flush_every, self.flush_after_s = flush_every, flush_after_s
        self.max_failures = max_failures
        self.backoff_cap_s, self.server_timeout_s = backoff_cap_s, server_timeout_s
        self.sleep, self.now = sleep, now
        self.state_path = Path(store.root) / "watch" / f"{resource.plural}.json"
        self.stats = WatchStats()
        self._pending: list[dict] = []
        self._version = ""  # the newest version seen, saved with the rows it covers
        self._oldest_pending: float | None = None

    # -- the loop --------------------------------------------------------------------------
    def run(self, duration_s: float | None = None, once: bool = False) -> WatchStats:
        """Watch until ``duration_s`` has passed, or (``once``) one watch connection ends."""
        deadline = None if duration_s is None else self.now() + duration_s
        self._version = self._load_version()
        failures = 0
        while deadline is None or self.now() < deadline:
            before = self.stats.changes
            try:
                if not self._version:
                    self._relist()
                left = None if deadline is None else max(1, int(deadline - self.now()))
                complete = self._watch(left)
                self._contact()
                failures = 0
                if self.stats.changes == before and not once:
                    self.sleep(1.0)  # a proxy that ends idle watches at once: no busy loop
            except _Gone:
                self.stats.relists += 1
                self._flush()
                self._version = ""
                continue
            except LiveError as exc:
                if not isinstance(exc, Unreachable):
                    raise  # credentials refused, forbidden: retrying cannot help
                failures = self._backoff(failures, exc)
                complete = False
            except _BROKEN as exc:  # a broken connection, a stuck server, a garbled line
                self._flush()  # what arrived before the break is kept, and its version
                if self.stats.changes > before:
                    failures = 0  # it worked for a while: a fresh break, not a streak
                failures = self._backoff(failures, exc)
                complete = False
            if once and complete:
                break
        self._flush()
        return self.stats

    def _contact(self) -> None:
        self.stats.last_contact = pd.Timestamp.now(tz="UTC").isoformat()

    def _backoff(self, failures: int, exc: BaseException) -> int:
        """Count one failure, give up past ``max_failures``, else wait (doubling, capped)."""
        failures += 1
        self.stats.reconnects += 1
        if failures > self.max_failures:
            raise LiveError(f"kube watch: gave up after {failures - 1} failed reconnects: "
                            f"{first_line(exc)}") from exc
        self.sleep(min(self.backoff_cap_s, 0.5 * 2 ** (failures - 1)))
        return failures

    def _relist(self) -> None:
        """List the resource (paged), store every row, keep the list's version."""
        version = ""
        # no retries inside: the run loop backs off and counts failures itself
        for page in list_pages(self.api_client, self.resource, retries=0):
            items = [i for i in page.get("items") or [] if self._wanted(i)]
            self.stats.listed += len(items)
            self._pending.extend(items)
            version = (page.get("metadata") or {}).get("resourceVersion") or version
        self._contact()
        self._version = version
        self._flush()

    def _watch(self, timeout_s: int | None) -> bool:
        """One watch connection from the saved version; True when it ended cleanly."""
        from kubernetes import client
        from kubernetes.watch.watch import iter_resp_lines

        api = getattr(client, self.resource.api)(self.api_client)
        method = getattr(api, self.resource.all_namespaces)
        self.stats.connections += 1
        try:
            resp = method(watch=True, resource_version=self._version,
                          allow_watch_bookmarks=True,
                          timeout_seconds=min(timeout_s or self.server_timeout_s,
                                              self.server_timeout_s),
                          _preload_content=False,
                          _request_timeout=(10, self.server_timeout_s + 30))
        except Exception as exc:  # noqa: BLE001
            if http_status(exc) == 410:
                raise _Gone() from exc
            if http_status(exc) in (401, 403):
                error = classify_error(exc, self.api_client, self.resource, "")
                raise (error if isinstance(error, LiveError)
                       else LiveError(f"kube watch: {error}")) from exc
            raise
        try:
            for line in iter_resp_lines(resp):
                if line:
                    self._apply(json.loads(line))
        finally:
            resp.release_conn()
        self._flush()
        return True

    def _apply(self, change: dict) -> None:
        kind, obj = change.get("type"), change.get("object") or {}
        if kind == "ERROR":
            if obj.get("code") == 410:
                raise _Gone()
            raise RuntimeError(f"watch error: {obj.get('code')} {obj.get('reason')}")
        if kind in ("ADDED", "MODIFIED") and self._wanted(obj):
            self.stats.changes += 1
            self._contact()
            self._pending.append(obj)
            if self._oldest_pending is None:
                self._oldest_pending = self.now()
        # DELETED is the TTL expiring: the store keeps what it already has
        self._version = (obj.get("metadata") or {}).get("resourceVersion") or self._version
        if len(self._pending) >= self.flush_every or (
                self._oldest_pending is not None
                and self.now() - self._oldest_pending >= self.flush_after_s):
            self._flush()

    def _wanted(self, item: dict) -> bool:
        ns = (item.get("metadata") or {}).get("namespace") or ""
        return not self.namespaces or ns in self.namespaces

    # -- the store and the saved version ---------------------------------------------------
    def stop(self) -> WatchStats:
        """Write what is pending (on SIGTERM: the pod is being replaced)."""
        self._flush()
        return self.stats

    def _flush(self) -> None:
        """Write the pending rows, then (only then) save the version they reach."""
        self._oldest_pending = None
        if self._pending:
            ctx = ParseContext(f"watch:{self.resource.plural}", self.zone,
                               {"collected_at": pd.Timestamp.now(tz="UTC")})
            batch = KubeBatch(source=ctx.file)
            shape_items(self._pending, ctx, batch, default_kind=self.resource.kind)
            for table, df in batch.frames.items():
                self.stats.new_rows += self.store.write(table, df)
            self._pending = []
        if self._version:
            self._save_version(self._version)
            self.stats.resource_version = self._version

    def _load_version(self) -> str:
        try:
            return str(json.loads(self.state_path.read_text())["resourceVersion"])
        except (OSError, ValueError, KeyError, TypeError):
            return ""

    def _save_version(self, version: str) -> None:
        atomic_write(self.state_path, json.dumps({"resourceVersion": version}))


def _broken_errors() -> tuple[type[BaseException], ...]:
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    return (OSError, HTTPError, ApiException, RuntimeError, json.JSONDecodeError)


_BROKEN = _broken_errors()


class _Gone(Exception):
    """410: the saved resourceVersion is older than the server keeps; list again."""
