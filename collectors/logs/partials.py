"""CRI and Docker partial lines joined back into the line their program printed.

containerd and CRI-O cut a line longer than their limit (containerd's
``max_container_log_line_size``, 16 KiB by default) into fragments; every fragment but the
last is tagged ``P``, the last ``F``::

    2021-08-23T03:03:05.123456789Z stdout P 10.0.0.1 - - [23/Aug/2021:11:03:05 +0800] "GET /p?i=…
    2021-08-23T03:03:05.123478901Z stdout F …" 200 512 "-" "python-requests/2.25.1" 0.012

kubelet's ``parseCRILog`` keeps a ``P`` fragment's content without its newline, so
``kubectl logs`` prints the fragments as one line; this module does the same.

Docker's ``json-file`` driver cuts a line at 16 KiB too; its fragments are entries whose
``log`` does not end in ``\\n`` (moby#34855), the entry whose ``log`` ends in one closes
the line (docker/for-linux#1321 shows such a pair)::

    {"log":"{\\"@timestamp\\":\\"2021-10-18T17:35:54.263Z\\",xxxxxxx ","stream":"stdout","time":"…"}
    {"log":"the another parts\\n","stream":"stdout","time":"2021-10-20T02:35:38.970719033Z"}

Why per stream: stdout and stderr go to one file, interleaved, and a stderr line can fall
between two stdout fragments (joining across streams is fluent-bit#4387). The joined line
takes the first fragment's time (when the program began writing it) and is read as
``<time> <stream> F <content…>``.

Accounting: each fragment before the one that completes the line is counted as skipped
(``PARTIAL``) and the completing line carries the row or the malformed sample, so
``lines = rows + malformed + skipped`` still holds. A file that ends inside a line (the
container was killed mid-write) has its fragments joined and read at the last one:
counted, not lost. A joined line longer than ``MAX_LINE`` is reported too long.

Row ids hash the physical lines the row was made of, joined by ``\\n`` (which no single
line can hold), so a joined line never takes the id of a physical line printing the same
text; their occurrences are counted here, the same way for every reader.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from hashlib import blake2b

from collectors.base import MAX_LINE

__all__ = ["PARTIAL", "Joined", "Partials"]

PARTIAL = "CRI partial line: joined with the line that ends it"  # Docker's too

#: The CRI prefix with its tag; ``P:…``/``F:…`` are the forward-compatible tag forms
#: (kubelet splits the tag on ``:`` and reads the first part).
_CRI = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) "
                  r"(stdout|stderr) ([PF])(?::\S*)? ")


@dataclass
class Joined:
    """A line made of fragments: the text to parse (``None``: too long), where it is
    counted (its last fragment), and its row identity ``(stream, lines, occurrence)``."""

    number: int
    text: str | None
    identity: tuple[str, str, int]


#: Docker json-file entries begin so (the driver writes ``log``, ``stream``, ``time``).
_DOCKER_START = '{"log":'
_DOCKER_LOG_END = '","stream":'


@dataclass
class _Held:
    time: str
    raws: list[str] = field(default_factory=list)
    size: int = 0
    last: int = 0
    logs: list[str] | None = None  # a Docker line's pieces of ``log`` (None: CRI)


class Partials:
    """The fragments of one file, held per stream until the line that completes them."""

    def __init__(self, stream: str) -> None:
        self.stream = stream
        self._held: dict[str, _Held] = {}
        self._seen: dict[bytes, int] = {}

    def feed(self, number: int, text: str, raw: Callable[[], str]) -> Joined | str | None:
        """``text`` (a stripped line) as it is to be read: itself, a ``Joined`` line, or
        ``None`` when it is a fragment held for later (count it as ``PARTIAL``).
        ``raw()`` gives the line unstripped: a fragment may end in a space that belongs
        to the line."""
        if text.startswith(_DOCKER_START):
            return self._feed_docker(number, text)
        if text[10:11] != "T":  # cheap test first: most lines carry no CRI prefix
            return text
        m = _CRI.match(text)
        if m is None or (m[3] == "F" and m[2] not in self._held):
            return text
        whole = raw()
        if not whole.startswith(m[0]):  # leading blanks: not as a runtime writes it
            return text
        held = self._held.setdefault(m[2], _Held(m[1]))
        held.size += len(whole) - m.end()
        held.raws.append(whole if held.size <= MAX_LINE else "")
        held.last = number
        if m[3] == "P":
            return None
        return self._join(m[2], self._held.pop(m[2]))

    def _feed_docker(self, number: int, text: str) -> Joined | str | None:
        """A Docker json-file entry: itself, a ``Joined`` line, or ``None`` (held)."""
        if not self._held and _ends_its_line(text):  # the usual entry: no JSON parsed
            return text
        try:
            entry = json.loads(text)
        except (ValueError, RecursionError):
            return text  # the per-line parser reports it
        log, time = entry.get("log"), entry.get("time")
        if not isinstance(log, str) or not isinstance(time, str):
            return text
        stream = entry.get("stream") if entry.get("stream") in ("stdout", "stderr") else "stdout"
        ends = log.endswith("\n")
        if ends and stream not in self._held:
            return text
        held = self._held.setdefault(stream, _Held(time, logs=[]))
        held.size += len(log)
        keep = held.size <= MAX_LINE
        held.raws.append(text if keep else "")
        held.logs.append(log if keep else "")
        held.last = number
        if not ends:
            return None
        return self._join(stream, self._held.pop(stream))

    def holding(self) -> bool:
        """Whether a fragment waits for the line that ends it."""
        return bool(self._held)

    def rest(self) -> list[Joined]:
        """Fragments the file ended with, each stream's joined, in line order."""
        joined = [self._join(stream, held) for stream, held in self._held.items()]
        self._held.clear()
        return sorted(joined, key=lambda j: j.number)

    def _join(self, stream: str, held: _Held) -> Joined:
        if held.size > MAX_LINE:
            return Joined(held.last, None, (self.stream, "", 0))
        if held.logs is not None:  # as ``wrappers.unwrap`` reads a whole Docker entry
            content = "".join(held.logs).rstrip("\n").strip()
        else:
            content = "".join(_CRI.sub("", raw, count=1) for raw in held.raws)
        lines = "\n".join(held.raws)
        key = blake2b(lines.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        occurrence = self._seen.get(key, 0)
        self._seen[key] = occurrence + 1
        return Joined(held.last, f"{held.time} {stream} F {content}".strip(),
                      (self.stream, lines, occurrence))


def _ends_its_line(entry: str) -> bool:
    """Whether a Docker entry's ``log`` ends in ``\\n``, read off its JSON text: the
    ``\\n`` escape just before the quote that closes ``log`` (an odd run of backslashes:
    ``\\\\n`` is a backslash and an ``n``)."""
    end = entry.rfind(_DOCKER_LOG_END)
    if end < 2 or entry[end - 1] != "n":
        return False
    start = end - 2
    while start >= 0 and entry[start] == "\\":
        start -= 1
    return (end - 2 - start) % 2 == 1
