"""Log parsers: one module per format, a registry, and format detection.

Each format module exposes ``NAME``, ``sniff(line) -> bool`` (cheap recognition of one
line) and ``parse(line, ctx) -> [(table, row), ...]``; ``read_log`` turns a file into a
``Batch`` with any of them.

Why detection votes over many lines instead of trusting the first: log files start with
banners, reload notices and the odd truncated line; the format whose ``sniff`` accepts the
most of the first ``DETECT_LINES`` non-blank lines wins (ties go to registry order).
"""

from __future__ import annotations

import os
from itertools import islice
from types import ModuleType

from collectors.logs import coredns, ingress_nginx, jsonl, nginx_combined, rgw
from collectors.logs.reader import iter_lines, read_log

__all__ = ["DETECT_LINES", "FORMATS", "detect", "detect_lines", "read_log"]

FORMATS: dict[str, ModuleType] = {
    m.NAME: m for m in (ingress_nginx, nginx_combined, jsonl, coredns, rgw)
}
DETECT_LINES = 50


def detect(path: str | os.PathLike) -> str:
    """The name of the format that recognises most of the file's first lines."""
    return detect_lines([text for _, text in islice(iter_lines(path), DETECT_LINES)],
                        os.fspath(path))


def detect_lines(lines: list[str], where: str) -> str:
    """The format that recognises most of ``lines`` (a file's first lines, a stream's)."""
    votes = {name: sum(map(module.sniff, lines)) for name, module in FORMATS.items()}
    best = max(votes, key=votes.__getitem__)
    if votes[best] == 0:
        raise ValueError(
            f"{where}: no known log format recognised in its first {len(lines)} "
            f"non-blank lines; pass --log-format ({', '.join(FORMATS)})"
        )
    return best
