"""The cause catalogue: one module per cause id, registered here and nowhere else.

Every cause module defines:

- ``ID``: the stable cause id (``dns.resolver_timeout``); it never changes meaning.
- ``NEEDS``: inputs without which the cause cannot be judged — table names
  (``requests``) or signals (``signal:conntrack_insert_failed_per_second``). When one is
  missing the engine reports the cause as *no data* instead of running it.
- ``WANTS``: inputs that sharpen the verdict but are optional.
- ``FIX``: what to try, in one paragraph.
- ``analyze(window, th) -> Finding``: a pure function of the incident window (and its
  baseline) and the cause's thresholds from config. No I/O, no printing.

The docs entry for each cause is in ``docs/causes.md`` (Meaning, Impact, Diagnosis,
Mitigation); a catalogue test fails when one is missing.
"""

from __future__ import annotations

from types import ModuleType

from rca.causes import app_slow_response, dns_resolver_timeout

__all__ = ["REGISTRY"]

_MODULES: tuple[ModuleType, ...] = (dns_resolver_timeout, app_slow_response)

REGISTRY: dict[str, ModuleType] = {m.ID: m for m in _MODULES}
