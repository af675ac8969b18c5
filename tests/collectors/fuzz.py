"""Mutation fuzzing of every reader: one bad line is one counted line, never a crash.

Each format starts from real-shaped seed lines (the sample files under ``tests/data`` plus
the lines of issue 10), mutates them (digits grown to hundreds of digits, signs flipped,
years moved out of range, bytes inserted, deleted, doubled, Unicode digits, deep
nesting, over-long lines) and reads them through the real reader. A run fails on:

- a crash: any exception out of the reader (only ``LineError``s are expected, and the
  reader turns those into malformed lines);
- broken accounting: lines read != lines kept + malformed + skipped with a reason.

``make test`` runs a short mode (``tests/collectors/test_fuzz.py``); ``make soak`` runs
``python -m tests.collectors.fuzz --lines 1000000`` and prints the figures per format.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import re
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path

import pandas as pd

from collectors.base import LineError, ParseContext, check_row
from collectors.kube import KubeBatch, read_kube, shape_items
from collectors.logs import FORMATS, read_log
from collectors.logs.wrappers import unwrap
from collectors.metrics_file import read_metrics_file

DATA = Path(__file__).resolve().parents[1] / "data"
LOG_SAMPLES = {
    "ingress-nginx": ["ingress-nginx.log"],
    "nginx-combined": ["nginx-combined.log"],
    "jsonl": ["requests.jsonl"],
    "coredns": ["coredns.log", "coredns-cri.log"],
    "dnsmasq": ["dnsmasq-cri.log"],
    "rgw": ["rgw.log"],
}
#: The lines of issue 10, as filed.
ISSUE_LINES = {
    "ingress-nginx": [],
    "nginx-combined": [
        '10.0.0.1 - - [01/Jan/0001:00:00:00 +0800] "GET / HTTP/1.1" 200 1 "-" "-" 0.1',
    ],
    "jsonl": [
        '{"ts":"2300-01-01T00:00:00Z","latency_ms":1,"status":200}',
        '{"ts":"2021-08-23T03:02:58Z","latency_ms":1,"status":200,"side":{"a":1}}',
    ],
    "coredns": [],
    "dnsmasq": [],
    "rgw": [],
}
CHUNK = 20_000
_DIGITS = re.compile(r"\d+")
_YEAR = re.compile(r"(?<!\d)(19|20)\d\d(?!\d)")
_ODD = ["²", "٣", "\x00", "\ufffd", "-", "+", ".", "e", "inf", "NaN", '"', "[", "]", "{",
        "}", " ", "\t", ":", ",", "\\", "Z", "+9999", "𝟘"]


def _huge(rng: random.Random) -> str:
    return rng.choice(["9" * 400, "1" * 5000, "18446744073709551616", "1e400", "0" * 50])


def mutate(line: str, rng: random.Random) -> str:
    """One to three random edits of ``line``; some aimed at numbers and times.

    Deep nesting of 60,000 (parsed: under MAX_LINE) is kept rare (1 line in ~250): such
    lines cost a reader ~300x a normal one, and would otherwise be most of a soak's time.
    """
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(12)
        n = len(line)
        i = rng.randrange(n + 1)
        if op == 0 and n:  # delete a slice (truncation included)
            line = line[:i] + line[i + rng.randint(1, 20):]
        elif op == 1:  # insert odd characters
            line = line[:i] + rng.choice(_ODD) + line[i:]
        elif op == 2 and n:  # double a slice
            j = min(n, i + rng.randint(1, 30))
            line = line[:j] + line[i:j] + line[j:]
        elif op == 3:  # a number becomes huge
            line = _replace_one(_DIGITS, line, _huge(rng), rng)
        elif op == 4:  # a number turns negative
            line = _replace_one(_DIGITS, line, None, rng, negate=True)
        elif op == 5:  # a year out of range
            line = _replace_one(_YEAR, line, rng.choice(["0001", "9999", "2300", "1600"]), rng)
        elif op == 6:  # a random byte (as text)
            line = line[:i] + chr(rng.randrange(0x20, 0x3000)) + line[i + 1:]
        elif op == 7:  # deep nesting (60,000 deep stays under MAX_LINE: it is parsed)
            depth = 60_000 if rng.random() < 0.05 else rng.choice([10, 1000])
            line = line[:i] + rng.choice("[{") * depth + line[i:]
        elif op == 8:  # cut short
            line = line[:i]
        elif op == 9 and rng.random() < 0.01:  # an over-long line
            line = line + "x" * 70_000
        elif op == 10:  # a digit to a Unicode digit
            line = _replace_one(re.compile(r"\d"), line, rng.choice(["²", "٣", "𝟘"]), rng)
        elif op == 11:  # a zone out of range
            line = re.sub(r"[+-]\d\d:?\d\d\b|Z\b", "+9999", line, count=1)
    return line


def _replace_one(pattern, line, new, rng, negate=False):
    spots = list(pattern.finditer(line))
    if not spots:
        return line
    m = rng.choice(spots)
    text = "-" + m.group(0) if negate else new
    return line[: m.start()] + text + line[m.end():]


@dataclass
class Figures:
    """What one fuzz run of one format did."""

    fmt: str
    lines: int = 0
    kept: int = 0
    malformed: int = 0
    skipped: int = 0
    unaccounted: int = 0
    crashes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, batch) -> None:
        self.lines += batch.lines
        self.kept += batch.kept
        self.malformed += batch.malformed
        self.skipped += sum(batch.skipped.values())
        self.unaccounted += batch.unaccounted()

    def row(self) -> str:
        return (f"{self.fmt:15} {self.lines:>10,} {self.kept:>10,} {self.malformed:>10,} "
                f"{self.skipped:>9,} {self.unaccounted:>11,} {len(self.crashes):>7} "
                f"{self.seconds:>7.1f}")


HEADER = (f"{'format':15} {'lines':>10} {'kept':>10} {'malformed':>10} {'skipped':>9} "
          f"{'unaccounted':>11} {'crashes':>7} {'seconds':>7}")


def _ctx(path: Path, **settings) -> ParseContext:
    return ParseContext(str(path), UTC, {"collected_at": pd.Timestamp("2021-08-23T04:00Z"),
                                         **settings})


def seeds(fmt: str) -> list[str]:
    lines = [*ISSUE_LINES.get(fmt, [])]
    for name in LOG_SAMPLES[fmt]:
        lines += [x for x in (DATA / "logs" / name).read_text().splitlines() if x.strip()]
    return lines


def fuzz_log(fmt: str, n: int, seed: int, workdir: Path) -> Figures:
    """``n`` mutated lines of ``fmt`` through ``read_log``, ``CHUNK`` lines a file."""
    rng, base, figures = random.Random(seed), seeds(fmt), Figures(fmt)
    start = time.perf_counter()
    path = workdir / f"fuzz-{fmt}.log"
    for done in range(0, n, CHUNK):
        _write_lines(path, (mutate(rng.choice(base), rng) for _ in range(min(CHUNK, n - done))),
                     rng)
        try:
            figures.add(read_log(path, fmt, _ctx(path)))
        except Exception:  # noqa: BLE001 - a crash is what this run looks for
            figures.crashes.append(_culprit(fmt, path) or traceback.format_exc(limit=3))
    figures.seconds = time.perf_counter() - start
    return figures


def _write_lines(path: Path, lines, rng: random.Random) -> None:
    """One mutant a line, streamed (a chunk can hold 100 MB of mutants); now and then
    inside a wrapper: the CRI prefix or Docker's json-file."""
    with open(path, "w", encoding="utf-8", errors="surrogatepass") as fh:
        for line in lines:
            line = _wrap(line, rng) if rng.random() < 0.05 else line
            fh.write(line.replace("\n", " ").replace("\r", " ") + "\n")


def _wrap(line: str, rng: random.Random) -> str:
    if rng.random() < 0.5:
        return f"2021-08-23T03:03:01.123456789Z stdout F {line}"
    return json.dumps({"log": line + "\n", "stream": "stdout", "time": "2021-08-23T03:03:01Z"})


def _culprit(fmt: str, path: Path) -> str | None:
    """The first line whose parse raises something other than ``LineError``."""
    module = FORMATS[fmt]
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            for _, row in module.parse(unwrap(line, getattr(module, "READS_TIME_PREFIX", False)),
                                       _ctx(Path("x"))):
                check_row(row)
        except LineError:
            continue
        except Exception as exc:  # noqa: BLE001
            return f"{type(exc).__name__}: {exc} <- {line[:300]!r}"
    return None


def fuzz_metrics(n: int, seed: int, workdir: Path) -> Figures:
    rng, figures = random.Random(seed), Figures("metrics")
    base = [x for name in ("coredns.om", "node_exporter.om", "node_exporter.prom")
            for x in (DATA / "metrics" / name).read_text().splitlines()
            if x and not x.startswith("#")]
    start = time.perf_counter()
    path = workdir / "fuzz.om"
    for done in range(0, n, CHUNK):
        with open(path, "w", encoding="utf-8", errors="surrogatepass") as fh:
            for _ in range(min(CHUNK, n - done)):
                fh.write(mutate(rng.choice(base), rng).replace("\n", " ").replace("\r", " ")
                         + "\n")
            fh.write("# EOF\n")
        try:
            figures.add(read_metrics_file(path, _ctx(path)))
        except Exception:  # noqa: BLE001
            figures.crashes.append(traceback.format_exc(limit=3))
    figures.seconds = time.perf_counter() - start
    return figures


_KUBE_VALUES: list[Callable[[random.Random], object]] = [
    lambda r: None, lambda r: 5, lambda r: -1, lambda r: 2**64, lambda r: 10**400,
    lambda r: 1e308 * 10, lambda r: "x", lambda r: "", lambda r: [], lambda r: {},
    lambda r: [1, "a"], lambda r: {"a": 1}, lambda r: True, lambda r: "9999-12-31T00:00:00Z",
    lambda r: "0001-01-01T00:00:00Z", lambda r: "2300-01-01T00:00:00Z",
    lambda r: "2021-08-23T03:03:00", lambda r: "not a time",
]


def mutate_item(item: object, rng: random.Random) -> object:
    """A copy of ``item`` with one to four leaves or branches replaced."""
    item = copy.deepcopy(item)
    for _ in range(rng.randint(1, 4)):
        path = []
        node = item
        while isinstance(node, dict | list) and node and rng.random() < 0.8:
            key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
            path.append((node, key))
            node = node[key]
        if not path:
            return rng.choice(_KUBE_VALUES)(rng)
        parent, key = path[-1]
        if rng.random() < 0.1 and isinstance(parent, dict):
            del parent[key]
        else:
            parent[key] = rng.choice(_KUBE_VALUES)(rng)
    return item


def fuzz_kube(n: int, seed: int, workdir: Path) -> Figures:
    """``n`` mutated items through ``shape_items``; every 500th batch as a broken file."""
    rng, figures = random.Random(seed), Figures("kube")
    items = []
    for path in sorted((DATA / "kube").glob("*.json")):
        try:
            doc = json.loads(path.read_text())
        except ValueError:
            continue
        items += doc.get("items", [doc]) if isinstance(doc, dict) else []
    start = time.perf_counter()
    ctx = _ctx(workdir / "kube.json")
    batch_size = 1000
    for done in range(0, n, batch_size):
        mutated = [mutate_item(rng.choice(items), rng) for _ in range(min(batch_size, n - done))]
        batch = KubeBatch(source="fuzz")
        try:
            shape_items(mutated, ctx, batch)
            figures.add(batch)
        except Exception:  # noqa: BLE001
            figures.crashes.append(_kube_culprit(mutated, ctx) or traceback.format_exc(limit=3))
        if (done // batch_size) % 50 == 0:  # text-level damage to a whole file
            path = workdir / "kube.json"
            text = mutate(json.dumps({"kind": "List", "items": mutated[:20]}), rng)
            path.write_text(text, encoding="utf-8", errors="surrogatepass")
            try:
                figures.add(read_kube(path, ctx))
            except Exception:  # noqa: BLE001
                figures.crashes.append(traceback.format_exc(limit=3))
    figures.seconds = time.perf_counter() - start
    return figures


def _kube_culprit(items: list, ctx: ParseContext) -> str | None:
    for item in items:
        try:
            shape_items([item], ctx, KubeBatch(source="fuzz"))
        except Exception as exc:  # noqa: BLE001
            return f"{type(exc).__name__}: {exc} <- {json.dumps(item, default=str)[:300]}"
    return None


def run(lines: int, seed: int = 1, only: list[str] | None = None) -> list[Figures]:
    """Fuzz every reader (or ``only`` those) with ``lines`` mutated lines (items) each."""
    out = []
    with tempfile.TemporaryDirectory(prefix="rca-fuzz-") as tmp:
        work = Path(tmp)
        for fmt in LOG_SAMPLES:
            if not only or fmt in only:
                out.append(fuzz_log(fmt, lines, seed, work))
        if not only or "metrics" in only:
            out.append(fuzz_metrics(lines, seed, work))
        if not only or "kube" in only:
            out.append(fuzz_kube(lines, seed, work))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000, help="per format")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", nargs="*", help="formats: " + ", ".join(
        [*LOG_SAMPLES, "metrics", "kube"]))
    args = parser.parse_args(argv)
    print(HEADER, flush=True)
    bad = 0
    for figures in run(args.lines, args.seed, args.only):
        print(figures.row(), flush=True)
        for crash in Counter(figures.crashes).most_common(5):
            print("   crash:", crash[0][:400], file=sys.stderr)
        bad += len(figures.crashes) + figures.unaccounted
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
