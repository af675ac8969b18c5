"""Log parsers: one module per format, a registry, and format detection.

Each format module exposes ``NAME``, ``sniff(line) -> bool`` (cheap recognition of one
line) and ``parse(line, ctx) -> [(table, row), ...]`` (``[]``: a valid line holding
nothing for the record); optionally ``skip_reason(line)`` (why such a line was skipped,
for the accounting) and ``READS_TIME_PREFIX`` (keep the CRI / kubectl time on the line,
see ``wrappers``). ``read_log`` turns a file into a ``Batch`` with any of them.

Why detection votes over the first lines that *some* format recognises instead of the
first lines of the file: a controller's log starts with banners and dozens of klog lines
before the first access line. The format whose ``sniff`` accepts the most of the first
``DETECT_LINES`` recognised lines wins (ties go to registry order); at most
``DETECT_SCAN`` lines are looked at.
"""

from __future__ import annotations

import os
from types import ModuleType

from collectors.base import LineError
from collectors.logs import coredns, dnsmasq, ingress_nginx, jsonl, nginx_combined, rgw
from collectors.logs.files import iter_lines
from collectors.logs.reader import read_log
from collectors.logs.wrappers import unwrap

__all__ = ["DETECT_LINES", "DETECT_SCAN", "FORMATS", "detect", "detect_lines", "read_log"]

FORMATS: dict[str, ModuleType] = {
    m.NAME: m for m in (ingress_nginx, nginx_combined, jsonl, coredns, dnsmasq, rgw)
}
DETECT_LINES = 50
DETECT_SCAN = 10_000


def detect(path: str | os.PathLike) -> str:
    """The name of the format that recognises most of the file's first recognised lines."""
    votes = dict.fromkeys(FORMATS, 0)
    lines = iter_lines(path)
    scanned = recognised = 0
    for _, text in lines:
        scanned += 1
        hits = [name for name, module in FORMATS.items() if _sniff(module, text)]
        for name in hits:
            votes[name] += 1
        recognised += bool(hits)
        if recognised >= DETECT_LINES or scanned >= DETECT_SCAN:
            break
    best = max(votes, key=votes.__getitem__)
    if votes[best] == 0:
        total = scanned + sum(1 for _ in lines)
        raise ValueError(
            f"{os.fspath(path)}: {total} non-blank lines, none of the first {scanned} in a "
            f"known log format; pass --log-format ({', '.join(FORMATS)})"
        )
    return best


def detect_lines(lines: list[str], where: str) -> str:
    """The format that recognises most of ``lines`` (a Loki stream's first lines)."""
    votes = {name: sum(_sniff(m, text) for text in lines) for name, m in FORMATS.items()}
    best = max(votes, key=votes.__getitem__)
    if votes[best] == 0:
        raise ValueError(f"{where}: none of the first {len(lines)} lines in a known log "
                         f"format; set sources.loki.format ({', '.join(FORMATS)})")
    return best


def _sniff(module: ModuleType, text: str) -> bool:
    try:
        return module.sniff(unwrap(text, getattr(module, "READS_TIME_PREFIX", False)))
    except LineError:
        return False
