"""What container runtimes and ``kubectl`` wrap around a log line, taken off before parsing.

Three wrappers are common, whatever the format inside:

- Docker's ``json-file`` driver (``/var/lib/docker/containers/<id>/<id>-json.log``)::

    {"log":"10.0.0.1 - - [23/Aug/2021:11:03:05 +0800] \\"GET / HTTP/1.1\\" 200 ...\\n",
     "stream":"stdout","time":"2021-08-23T03:03:05.123456789Z"}

- the CRI log file (``/var/log/pods/<ns>_<pod>_<uid>/<container>/0.log``)::

    2021-08-23T03:03:05.123456789Z stdout F <line>

- ``kubectl logs --timestamps``: ``2021-08-23T03:03:05.123456789Z <line>``.

Why formats that print their own time lose the wrapper's: the line's own time is when the
program logged it; the wrapper's is when the runtime read the pipe. Formats that print no
time (CoreDNS's ``log`` plugin) or print it in many shapes (RGW) set
``READS_TIME_PREFIX = True`` and get the CRI form, so they can use the runtime's time.
"""

from __future__ import annotations

import json
import re

from collectors.base import LineError

__all__ = ["TIME_PREFIX", "unwrap"]

#: ``<RFC 3339 time> [stdout|stderr F|P ]``: the CRI prefix or kubectl's --timestamps.
TIME_PREFIX = re.compile(
    r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})) "
    r"(?:(?:stdout|stderr) [FP] )?"
)
_DOCKER_START = '{"log":'


def unwrap(line: str, keep_time_prefix: bool) -> str:
    """The line as its program printed it; with ``keep_time_prefix``, in the CRI form
    ``<time> <stream> F <line>`` when a wrapper gave a time."""
    if line.startswith(_DOCKER_START):
        line = _from_docker_json(line)
    if keep_time_prefix or line[10:11] != "T":  # cheap test first: most lines have none
        return line
    prefix = TIME_PREFIX.match(line)
    return line[prefix.end():] if prefix else line


def _from_docker_json(line: str) -> str:
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError):
        raise LineError("log", "starts like a Docker json-file line but is not JSON") from None
    log, time = obj.get("log"), obj.get("time")
    if not isinstance(log, str) or not isinstance(time, str):
        raise LineError("log", "Docker json-file line without a text 'log' and 'time'")
    stream = obj.get("stream") if obj.get("stream") in ("stdout", "stderr") else "stdout"
    return f"{time} {stream} F {log.rstrip(chr(10)).strip()}"
