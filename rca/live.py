"""Live sources: the systems a user runs (Kubernetes API, Prometheus, Loki), read for a window.

Why a registry of factories: ``rca collect --since 24h`` with no source flags must collect
from every source configured under ``sources:`` in ``rca.yaml``; flags add or override. Each
live collector contributes one factory here that looks at the config (and the flags) and
returns the sources it can build, so ``collect`` stays one loop whatever is configured.

A live source fetches (client passed in, so tests hand in a local server) and shapes what it
fetched into the same ``Batch`` the file collectors return; the window filter, the store merge
and the summary are then the file path's. A source that fails (unreachable, 403 on a
namespace, an expired continue token) yields what it got and names the gap in its batches;
it never stops the other sources.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import pandas as pd

from collectors.base import Batch, ParseContext
from rca.config import Config

__all__ = ["FACTORIES", "LIVE_MODULES", "Flags", "Gap", "LiveError", "LiveSource",
           "SourceError", "configured", "merge_gaps"]


class LiveError(RuntimeError):
    """A live source cannot be used at all (no cluster, credentials refused). The message
    is one line, names the source and never contains a credential; the other sources go on."""


class SourceError(ValueError):
    """A configured live source cannot be set up (bad option, unreadable credential file):
    a usage error before anything runs; the message names the option, never a secret."""


@dataclass(frozen=True)
class Gap:
    """Something a live source could not get: shown in the summary and the report."""

    source: str  # e.g. "kube", "prometheus", "loki"
    what: str  # e.g. "events in namespace ml", "signal conntrack_insert_failed_per_second"
    reason: str  # e.g. "403 Forbidden", "timeout after 30 s"
    since: pd.Timestamp | None = None
    until: pd.Timestamp | None = None


def merge_gaps(gaps: list[Gap]) -> list[Gap]:
    """Gaps of the same source, what and reason whose windows touch (chunk after chunk of
    one failing query) as one, in time order: one line per thing missing, not per request."""
    out: list[Gap] = []
    for g in sorted(gaps, key=lambda g: (g.source, g.what, g.reason, _since(g))):
        last = out[-1] if out else None
        if (last and (last.source, last.what, last.reason) == (g.source, g.what, g.reason)
                and last.until is not None and last.until == g.since):
            out[-1] = replace(last, until=g.until)
        else:
            out.append(g)
    return sorted(out, key=_since)


def _since(gap: Gap) -> pd.Timestamp:
    return gap.since if gap.since is not None else pd.Timestamp.min.tz_localize("UTC")


class LiveSource(Protocol):
    """One configured live system. ``name`` is what the progress bar and summary show."""

    name: str

    def fetch(self, since: pd.Timestamp, until: pd.Timestamp,
              ctx: ParseContext) -> Iterator[Batch]:
        """Batches of record rows for [since, until); gaps go in ``batch.gaps``."""
        ...


@dataclass
class Flags:
    """Live-source options from the command line (``None``: not given)."""

    values: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        value = self.values.get(key)
        return default if value is None or value == [] else value


#: Modules whose import appends a factory to ``FACTORIES`` (one line per live collector).
LIVE_MODULES: list[str] = ["collectors.kube_api", "collectors.prometheus", "collectors.loki"]

#: Each factory returns the live sources it can build from the config and the flags.
#: Live collectors append theirs here (one line each); nothing else needs an edit.
FACTORIES: list[Callable[[Config, Flags], list[LiveSource]]] = []


def configured(config: Config, flags: Flags | None = None) -> list[LiveSource]:
    """Every live source the config and flags describe, in registry order."""
    for module in LIVE_MODULES:
        importlib.import_module(module)
    flags = flags or Flags()
    return [src for factory in FACTORIES for src in factory(config, flags)]
