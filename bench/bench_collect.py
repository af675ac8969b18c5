"""Collection throughput: lines/s, rows/s and peak memory for a large access log.

Why a baseline in the same run: absolute figures move with the machine; the ratio to a
plain "read every line and match one regex" loop, measured in the same run on the same
file, says how much our parsing and shaping cost on top of the unavoidable work.

Each measurement runs in its own process so its peak RSS is its own.

    python bench/bench_collect.py            # 1,000,000 lines (BENCH_LINES to change)
"""

from __future__ import annotations

import json
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

OUT = Path("build/bench")
LINES = int(os.environ.get("BENCH_LINES", "1000000"))
_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def write_log(path: Path, n: int) -> None:
    """A seeded ingress-nginx access log: 6 services, ~10 req/s, 0.1 % garbage lines."""
    rng = random.Random(1)
    services = ["neishi", "dijiao", "dingbu-luosi", "datiao-pingjiao", "uxingke", "waiguan"]
    t0 = 1629648000  # 2021-08-23T00:00:00+08:00
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            if rng.random() < 0.001:
                fh.write("garbage line that is not an access log\n")
                continue
            t = time.gmtime(t0 + 8 * 3600 + i // 10)
            stamp = (f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:"
                     f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0800")
            svc = services[i % 6]
            lat = 0.2 + rng.random() * 0.4
            fh.write(
                f'10.20.1.{30 + i % 5} - - [{stamp}] "POST /predict HTTP/1.1" 200 512 "-" '
                f'"python-requests/2.25.1" {rng.randint(3_000_000, 10_000_000)} {lat:.3f} '
                f"[inference-{svc}-8080] [] 10.244.1.{17 + i % 6}:8080 512 {lat - 0.003:.3f} "
                f"200 {rng.getrandbits(128):032x}\n")


def child(mode: str, path: str) -> dict:
    t0 = time.perf_counter()
    if mode == "baseline":
        pattern = re.compile(r'^(\S+) - (\S+) \[([^\]]+)\] "([^"]*)" (\d+) (\d+) ')
        rows = 0
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if pattern.match(line):
                    rows += 1
    elif mode == "parse":
        from collectors.base import ParseContext
        from collectors.logs import read_log
        from rca.timeutil import get_zone

        batch = read_log(Path(path), "ingress-nginx", ParseContext(path, get_zone("UTC"), {}))
        rows = sum(len(df) for df in batch.frames.values())
    else:
        store = OUT / "store"
        shutil.rmtree(store, ignore_errors=True)
        from rca.cli import main

        code = main(["collect", "--store", str(store), "--since", "2021-08-22T00:00:00Z",
                     "--until", "2021-08-26T00:00:00Z", "--logs", path,
                     "--log-format", "ingress-nginx", "-o", "json"])
        assert code == 0
        from rca.store import Store

        rows = len(Store(store).load("requests"))
    seconds = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"mode": mode, "rows": rows, "seconds": round(seconds, 2), "peak_mb": round(peak_mb)}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    log = OUT / f"ingress-{LINES}.log"
    if not log.exists():
        write_log(log, LINES)
    results = {}
    for mode in ("baseline", "parse", "collect"):
        proc = subprocess.run([sys.executable, __file__, "--child", mode, str(log)],
                              capture_output=True, text=True, check=True)
        results[mode] = json.loads(proc.stdout.strip().splitlines()[-1])
    base = LINES / results["baseline"]["seconds"]
    print(f"input: {log} ({LINES:,} lines, {log.stat().st_size / 1e6:.0f} MB)")
    for mode, r in results.items():
        rate = LINES / r["seconds"]
        print(f"{mode:9s} {r['rows']:>9,} rows  {r['seconds']:7.2f} s  {rate:>10,.0f} lines/s  "
              f"{r['rows'] / r['seconds']:>10,.0f} rows/s  peak {r['peak_mb']:>5} MB  "
              f"x{rate / base:.2f} of baseline")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], sys.argv[3])))
    else:
        main()
