"""rca: timeout root-cause analysis for Kubernetes clusters running inference and storage.

The public API, in five lines::

    import rca
    s = rca.open("rca-data", since="24h", tz="Asia/Shanghai")
    s.incidents                                  # one row per incident, top cause first
    inc = s.incident(0); inc.causes; inc.evidence; inc.plot()
    s.requests(service="neishi", min_latency=5)  # any table, filtered, in your zone

Why lazy: ``import rca`` stays cheap for the collectors and the CLI's start-up, which
import submodules; the API (pandas, matplotlib, the engine) loads on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

__all__ = ["IncidentView", "Session", "__version__", "open", "select"]

_API = {"IncidentView", "Session", "open", "select"}


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module("rca.api"), name)
    raise AttributeError(f"module 'rca' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _API)
