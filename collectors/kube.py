"""The Kubernetes collector: ``kubectl get … -o json`` output → events and objects rows.

Why two layers: the file reader here only parses JSON and accounts for a broken file;
everything that gives an item meaning works on plain dicts (``shape_document`` and
``shape_items``). The live collector feeds the same functions the ``kubernetes`` client's
``ApiClient().sanitize_for_serialization(...)`` output, which has the same camelCase shape,
so a file collected by hand and a live collection produce the same rows and row ids.

Also read: the JSON lines that kubernetes-event-exporter's stdout sink prints (one Event a
line, without ``kind``; its own ``{"level":…}`` log lines are skipped), whatever wraps
them (``kubectl logs --timestamps``, CRI, Docker json-file: ``collectors.logs.wrappers``).

The ``kind`` of each item decides its rows (``kube_events`` for Events and container
terminations, ``kube_objects`` for pods, workloads and nodes, ``kube_services`` for
services and their backends). Any other kind is counted
in ``KubeBatch.skipped`` and not looked into: Secrets and ConfigMaps in a
``kubectl get all,secrets`` dump must never reach the store.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from collectors.base import (
    MAX_LINE,
    Batch,
    LineError,
    Malformed,
    ParseContext,
    RowBuffer,
    check_row,
)
from collectors.kube_events import condition_rows, event_row, termination_rows
from collectors.kube_objects import WORKLOAD_KINDS, node_row, pod_rows, workload_row
from collectors.kube_services import SERVICE_KINDS, service_rows
from collectors.logs.wrappers import unwrap

__all__ = ["KubeBatch", "read_kube", "shape_document", "shape_items"]

_TEXT_MAX = 200


@dataclass
class KubeBatch(Batch):
    """A ``Batch`` whose ``skipped`` counts the kinds seen but not stored.

    Without it, a dump whose pods are all ``Secret``s would look like an empty file.
    """

    skipped: Counter[str] = field(default_factory=Counter)
    #: lists read whole: one with no item is the API's answer "none", not a bad file
    lists: int = 0


#: What an Event looks like when it comes without its ``kind`` (event exporters).
_EVENT_KEYS = ("involvedObject", "regarding")
_EXPORTER_LOG = "not an Event: event exporter's own log line"


def read_kube(path: str | os.PathLike, ctx: ParseContext, keep: int = 3) -> KubeBatch:
    """Read one ``kubectl get … -o json`` file (a typed list, a ``List`` or one object).

    Invalid JSON is one malformed entry for the whole file and nothing of it is stored:
    a half-written dump cannot tell which of its items are complete.
    """
    batch = KubeBatch(source=str(path))
    # utf-8-sig: dumps saved by Windows tools start with a byte-order mark
    text = Path(path).read_text(encoding="utf-8-sig", errors="replace")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        if _one_object_a_line(text):
            _read_json_lines(text, ctx, batch, keep)  # event exporters
            return batch
        if exc.msg == "Extra data":  # `kubectl get … -o json >> file`, run twice
            _read_documents(text, ctx, batch, keep)
            return batch
        # position only, never the text: a broken dump may be a Secret's
        where = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
        batch.lines += 1
        batch.add_malformed(Malformed(ctx.file, exc.lineno, "json", where, ""), keep)
        return batch
    except RecursionError:
        batch.lines += 1
        batch.add_malformed(Malformed(ctx.file, 1, "json", "nested too deeply", ""), keep)
        return batch
    shape_document(doc, ctx, batch, keep)
    return batch


def _one_object_a_line(text: str) -> bool:
    """Whether the first non-blank line is a whole JSON object (once unwrapped)."""
    first = next((x.strip() for x in text.splitlines() if x.strip()), "")
    try:
        return isinstance(json.loads(unwrap(first[:MAX_LINE], keep_time_prefix=False)), dict)
    except (ValueError, RecursionError):
        return False


def _read_documents(text: str, ctx: ParseContext, batch: KubeBatch, keep: int) -> None:
    """Documents one after the other; a broken one ends the reading, counted."""
    decoder, pos = json.JSONDecoder(), 0
    while (pos := _skip_space(text, pos)) < len(text):
        try:
            doc, pos = decoder.raw_decode(text, pos)
        except (json.JSONDecodeError, RecursionError) as exc:
            where = getattr(exc, "msg", "nested too deeply")
            line = text.count("\n", 0, pos) + 1
            batch.lines += 1
            batch.add_malformed(Malformed(ctx.file, line, "json", where, ""), keep)
            return
        shape_document(doc, ctx, batch, keep)


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def _read_json_lines(text: str, ctx: ParseContext, batch: KubeBatch, keep: int) -> None:
    """One item a line (event exporters), numbered by line; each line on its own."""
    shaper = _Shaper(ctx, batch, keep)
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        try:
            if len(line) > MAX_LINE:
                raise LineError("line", f"longer than {MAX_LINE} characters")
            item = json.loads(unwrap(line, keep_time_prefix=False))
        except LineError as exc:
            batch.lines += 1
            shaper.malformed(lineno, exc.field, exc.message, "")
            continue
        except (ValueError, RecursionError):
            batch.lines += 1
            shaper.malformed(lineno, "json", "not a JSON object", "")
            continue
        if isinstance(item, Mapping) and "level" in item and not _looks_like_event(item):
            batch.lines += 1
            batch.skipped[_EXPORTER_LOG] += 1
            continue
        shaper.item(item, index=lineno, at="", default_kind="")
    shaper.finish()


def _looks_like_event(item: Mapping) -> bool:
    return any(isinstance(item.get(k), Mapping) for k in _EVENT_KEYS)


def shape_document(doc: Any, ctx: ParseContext, batch: KubeBatch, keep: int = 3) -> None:
    """Shape a parsed document: a list (typed or ``List``) or a single object."""
    if isinstance(doc, Mapping) and "items" in doc and doc["items"] is None:
        doc = {**doc, "items": []}  # the API writes an empty list as null
    if isinstance(doc, Mapping) and isinstance(doc.get("items"), list):
        list_kind = str(doc.get("kind") or "")
        # API lists (``PodList``) may omit each item's kind; a ``List`` mixes kinds.
        item_kind = list_kind.removesuffix("List") if list_kind != "List" else ""
        batch.lists += 1
        shape_items(doc["items"], ctx, batch, keep, default_kind=item_kind)
        return
    shaper = _Shaper(ctx, batch, keep)
    shaper.item(doc, index=0, at="", default_kind="")
    shaper.finish()


def shape_items(
    items: list[Any],
    ctx: ParseContext,
    batch: KubeBatch,
    keep: int = 3,
    *,
    default_kind: str = "",
) -> None:
    """Shape the items of one list into ``batch``; a bad item is counted, not raised.

    ``ctx.settings["collected_at"]`` (a UTC Timestamp) stamps the ``objects`` rows.
    Rows are appended to frames already in ``batch``, so a live collector can call this
    once per API list.
    """
    shaper = _Shaper(ctx, batch, keep)
    for i, item in enumerate(items):
        shaper.item(item, index=i, at=f"items[{i}].", default_kind=default_kind)
    shaper.finish()


class _Shaper:
    """Dispatches items by kind and keeps an item's rows only if all of them could be read."""

    def __init__(self, ctx: ParseContext, batch: KubeBatch, keep: int) -> None:
        if "collected_at" not in ctx.settings:
            raise ValueError("ctx.settings['collected_at'] is required to stamp object rows")
        self.ctx, self.batch, self.keep = ctx, batch, keep
        self.collected_at = pd.Timestamp(ctx.settings["collected_at"]).tz_convert("UTC")
        self.rows = RowBuffer()

    def item(self, item: Any, index: int, at: str, default_kind: str) -> None:
        self.batch.lines += 1
        if not isinstance(item, Mapping):
            self.malformed(index, at.rstrip(".") or "document", "not an object", "")
            return
        kind = item.get("kind") or default_kind or ("Event" if _looks_like_event(item) else "")
        if not kind or not isinstance(kind, str):
            self.malformed(index, f"{at}kind", "missing or not text", _identity(item, "?"))
            return
        try:
            rows = self._rows(kind, item, at)
            for _table, row in rows or []:
                check_row(row)
        except LineError as exc:
            self.malformed(index, exc.field, exc.message, _identity(item, kind))
            return
        if rows is None:
            self.batch.skipped[kind] += 1
            return
        self.batch.kept += 1
        for table, row in rows:
            self.rows.add(table, row)

    def _rows(self, kind: str, item: Mapping, at: str) -> list[tuple[str, dict]] | None:
        zone, now = self.ctx.zone, self.collected_at
        if kind == "Event":
            return [("events", event_row(item, at, zone))]
        if kind == "Pod":
            return [("objects", r) for r in pod_rows(item, at, zone, now)] + [
                ("events", r) for r in termination_rows(item, at, zone)
            ] + [("events", r) for r in condition_rows(item, at, zone, now)]
        if kind in WORKLOAD_KINDS:
            return [("objects", workload_row(item, kind, at, now))]
        if kind == "Node":
            return [("objects", node_row(item, at, now))]
        if kind in SERVICE_KINDS:
            return [("objects", service_rows(item, kind, at, now))]
        return None

    def malformed(self, index: int, field_path: str, message: str, text: str) -> None:
        self.batch.add_malformed(Malformed(self.ctx.file, index, field_path, message, text),
                                 self.keep)

    def finish(self) -> None:
        for table, df in self.rows.frames().items():
            old = self.batch.frames.get(table)
            self.batch.frames[table] = df if old is None else pd.concat([old, df])


def _identity(item: Mapping, kind: str) -> str:
    """What a malformed item is, for the sample text.

    Deliberately not the item's JSON: a bad Pod item would otherwise put its ``env`` in
    the report.
    """
    meta = item.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    name = "/".join(str(meta[k]) for k in ("namespace", "name") if meta.get(k))
    return f"{kind} {name or '?'}"[:_TEXT_MAX]
