"""Collection throughput: lines/s, rows/s and peak memory for large access logs.

Why baselines in the same run: absolute figures move with the machine (and with whoever
else uses it); ``cat FILE > /dev/null`` and today's per-line parser, measured in the same
run on the same file, say how much our parsing costs on top of the unavoidable reading,
and what the block reader gained. CPU seconds are printed beside wall seconds because a
shared machine stretches wall time but not CPU time.

Each measurement runs in its own process so its peak RSS is its own. The inputs are
generated on demand under ``build/bench`` (never committed).

    python bench/bench_collect.py                 # 1 M lines: every format; 10 M: ingress
    BENCH_LINES=1000000 BENCH_FORMATS=ingress-nginx python bench/bench_collect.py
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

OUT = Path("build/bench")
SIZES = [int(n) for n in os.environ.get("BENCH_LINES", "1000000,10000000").split(",")]
FORMATS = os.environ.get("BENCH_FORMATS",
                         "ingress-nginx,nginx-combined,jsonl,coredns,rgw").split(",")
#: Formats measured at 10 M lines and above (the per-line parser needs ~5 GB there).
LARGE_FORMATS = os.environ.get("BENCH_LARGE_FORMATS", "ingress-nginx").split(",")
_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
_SERVICES = ["neishi", "dijiao", "dingbu-luosi", "datiao-pingjiao", "uxingke", "waiguan"]
_T0 = 1629648000  # 2021-08-23T00:00:00+08:00


def write_log(path: Path, n: int, fmt: str = "ingress-nginx") -> None:
    """A seeded log of ``n`` lines: 6 services, ~10 req/s, 0.1 % garbage lines (a
    format may print several lines per request: RGW)."""
    rng = random.Random(1)
    line = {"ingress-nginx": _ingress, "nginx-combined": _combined, "jsonl": _jsonl,
            "coredns": _coredns, "rgw": _rgw}[fmt]
    written, i = 0, 0
    with path.open("w", encoding="utf-8") as fh:
        while written < n:
            if rng.random() < 0.001:
                fh.write("garbage line that is not an access log\n")
            else:
                text = line(i, rng)
                if text.count("\n") > 1:
                    text = "".join(text.splitlines(keepends=True)[:n - written])
                fh.write(text)
                written += text.count("\n") - 1
            written, i = written + 1, i + 1


def _stamp(i: int) -> str:
    t = time.gmtime(_T0 + 8 * 3600 + i // 10)
    return (f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:"
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0800")


def _ingress(i: int, rng: random.Random) -> str:
    lat = 0.2 + rng.random() * 0.4
    return (f'10.20.1.{30 + i % 5} - - [{_stamp(i)}] "POST /predict HTTP/1.1" 200 512 "-" '
            f'"python-requests/2.25.1" {rng.randint(3_000_000, 10_000_000)} {lat:.3f} '
            f"[inference-{_SERVICES[i % 6]}-8080] [] 10.244.1.{17 + i % 6}:8080 512 "
            f"{lat - 0.003:.3f} 200 {rng.getrandbits(128):032x}\n")


def _combined(i: int, rng: random.Random) -> str:
    lat = 0.2 + rng.random() * 0.4
    return (f'10.20.1.{30 + i % 5} - - [{_stamp(i)}] "POST /{_SERVICES[i % 6]}/predict?n={i} '
            f'HTTP/1.1" 200 {rng.randint(100, 900)} "-" "python-requests/2.25.1" {lat:.3f}\n')


def _jsonl(i: int, rng: random.Random) -> str:
    t = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(_T0 + 8 * 3600 + i // 10))
    return json.dumps({"ts": f"{t}.{i % 10}00+08:00", "station": f"station-{i % 5}",
                       "service": _SERVICES[i % 6], "latency_ms": round(rng.random() * 600, 1),
                       "status": 200, "request_id": f"{rng.getrandbits(64):016x}"}) + "\n"


def _coredns(i: int, rng: random.Random) -> str:
    """A CoreDNS query line in the node's CRI log file (A and AAAA, as glibc asks)."""
    t = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(_T0 + i // 10))
    kind = "AAAA" if i % 2 else "A"
    return (f"{t}.{rng.getrandbits(30) % 10**9:09d}Z stdout F [INFO] 10.244.1.{17 + i % 6}:"
            f"{rng.randint(1024, 65535)} - {rng.randint(0, 65535)} \"{kind} IN "
            f"{_SERVICES[i % 6]}.inference.svc.cluster.local. udp 50 false 512\" NOERROR "
            f"qr,aa,rd {143 if kind == 'AAAA' else 106} {rng.random() / 1000:.6f}s\n")


#: What a request's op status and HTTP status are, by weight: most succeed, some objects
#: are missing, a few downloads are cut off by the client (op status -104 behind a 206).
_RGW_OUTCOMES = [("0", "200")] * 90 + [("-2", "404")] * 6 + [("-104", "206")] * 2 + \
    [("0", "503")] * 2
_RGW_STEPS = ["s3:get_obj init permissions", "s3:get_obj recalculating target",
              "s3:get_obj reading permissions", "s3:get_obj verifying op params",
              "s3:get_obj executing", "s3:put_obj completing"]


def _rgw(i: int, rng: random.Random) -> str:
    """One request as a Pacific-style RGW pod's CRI log file holds it: ``starting new
    request``, sometimes a few ``req N …s s3:…`` steps (``debug_rgw`` 2), ``req done``,
    then the ``beast:`` access line; most lines of such a file carry no row."""
    t0 = _T0 + i // 10
    start, took = rng.random(), rng.random() * 0.2
    thread, req = f"7f{rng.getrandbits(40):010x}", f"0x{rng.getrandbits(44):012x}"
    op, http = rng.choice(_RGW_OUTCOMES)

    def line(at: float, level: str, message: str) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t0 + int(at)))
        ms = int(at % 1 * 1000)
        return (f"{stamp}.{ms:03d}{rng.randint(0, 999_999):06d}Z stdout F debug "
                f"{stamp}.{ms:03d}+0000 {thread} {level} {message}\n")

    out = [line(start, " 1", f"====== starting new request req={req} =====")]
    if rng.random() < 0.3:
        out += [line(start + took * k / 4, " 2", f"req {i} {took * k / 4:.9f}s {step}")
                for k, step in enumerate(rng.sample(_RGW_STEPS, 3))]
    end = start + took
    out.append(line(end, " 1", f"====== req done req={req} op status={op} http_status={http} "
                               f"latency={took:.9f}s ======"))
    out.append(line(end, " 1", f"beast: {req}: 10.244.3.{i % 200} - - "
                               f"[{_stamp(i)}] \"GET /models/{_SERVICES[i % 6]}.bin HTTP/1.1\" "
                               f"{http} {rng.randint(0, 1 << 20)} - \"aws-sdk-go/1.38.0 "
                               f"(go1.16; linux; amd64)\" - latency={took:.9f}s"))
    return "".join(out)


def child(mode: str, path: str, fmt: str) -> dict:
    """One measurement. Parsing is timed after the imports; ``collect`` is the whole
    command as a user runs it (imports, store writes and all)."""
    if mode in ("blocks", "per-line"):
        from collectors.base import ParseContext
        from collectors.logs import reader
        from rca.timeutil import get_zone

    t0, cpu0 = time.perf_counter(), time.process_time()
    if mode in ("blocks", "per-line"):
        ctx = ParseContext(path, get_zone("UTC"), {"jsonl_fields": {}})
        if mode == "blocks":  # streamed, as collect reads: the frames of a block at a time
            batch, blocks = reader.read_log_blocks(Path(path), fmt, ctx)
            rows = sum(len(df) for frames in blocks for df in frames.values())
        else:
            batch = reader.read_log_per_line(Path(path), fmt, ctx)
            rows = sum(len(df) for df in batch.frames.values())
    else:
        store = OUT / "store"
        shutil.rmtree(store, ignore_errors=True)
        from rca.cli import main

        code = main(["collect", "--store", str(store), "--since", "2021-08-22T00:00:00Z",
                     "--until", "2021-09-30T00:00:00Z", "--logs", path,
                     "--log-format", fmt, "-o", "json"])
        assert code == 0
        from rca.store import Store

        rows = sum(Store(store).tables().values())  # requests, or dns for CoreDNS
    seconds = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = time.process_time() - (cpu0 if mode != "collect" else 0)
    return {"mode": mode, "rows": rows, "seconds": round(seconds, 2), "cpu": round(cpu, 2),
            "peak_mb": round(usage.ru_maxrss / 1024)}


def _cat(log: Path) -> dict:
    t0 = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(["cat", str(log)], stdout=subprocess.DEVNULL, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return {"mode": "cat", "rows": 0, "seconds": round(time.perf_counter() - t0, 3),
            "cpu": round(cpu, 3), "peak_mb": 0}


def measure(lines: int, fmt: str) -> dict[str, dict]:
    log = OUT / f"{fmt}-{lines}.log"
    if not log.exists():
        write_log(log, lines, fmt)
    results = {"cat": _cat(log)}
    modes = ["blocks", "per-line"] + (["collect"] if fmt != "jsonl" or lines <= 1_000_000
                                      else [])
    for mode in modes:
        runs = [_run_child(mode, log, fmt) for _ in range(_repeats(lines, mode))]
        fastest = min(runs, key=lambda r: r["seconds"])
        results[mode] = {**fastest, "peak_mb": max(r["peak_mb"] for r in runs)}
    return results


def _repeats(lines: int, mode: str) -> int:
    """Fastest of 3 for the fast readers on files up to 1 M lines, as bench_store takes
    its figures: one run of 2 s on a shared machine moves by ±10 % with its neighbours.
    The per-line reader (tens of seconds) and 10 M-line files run once."""
    return 3 if lines <= 1_000_000 and mode != "per-line" else 1


def _run_child(mode: str, log: Path, fmt: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", mode, str(log), fmt],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def report(lines: int, fmt: str, log: Path, results: dict[str, dict]) -> None:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\n{fmt}: {lines:,} lines, {log.stat().st_size / 1e6:.0f} MB ({log}); "
          f"load average after: {load}")
    print(f"{'':9s} {'rows':>10s} {'wall s':>8s} {'cpu s':>7s} {'lines/s':>10s} "
          f"{'rows/s':>10s} {'lines/cpu-s':>11s} {'peak MB':>8s} {'x cat':>7s} "
          f"{'x per-line':>10s} {'(cpu)':>6s}")
    cat, old = results["cat"], results.get("per-line")
    for mode, r in results.items():
        rate = lines / max(r["seconds"], 1e-9)
        rows = r["rows"] / max(r["seconds"], 1e-9)
        vs_cat = f"{cat['seconds'] / r['seconds']:.3f}" if r["seconds"] else "-"
        vs_old = f"{old['seconds'] / r['seconds']:.2f}" if old and r["seconds"] else "-"
        vs_old_cpu = f"{old['cpu'] / r['cpu']:.2f}" if old and r["cpu"] else "-"
        per_cpu = f"{lines / r['cpu']:,.0f}" if r["cpu"] else "-"
        print(f"{mode:9s} {r['rows']:>10,} {r['seconds']:>8.2f} {r['cpu']:>7.2f} {rate:>10,.0f} "
              f"{rows:>10,.0f} {per_cpu:>11s} {r['peak_mb']:>8} {vs_cat:>7s} {vs_old:>10s} "
              f"{vs_old_cpu:>6s}")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    print("x cat: cat's wall time / this one's (1 = as fast as reading the file); "
          "x per-line: speed-up over the per-line parser, same run, by wall time and (cpu) "
          "by CPU time; the machine is shared, so CPU seconds are the steadier figure. "
          "Up to 1 M lines the fast readers' figures are the fastest of 3 runs (peak MB the "
          "largest); per-line and 10 M-line runs are single.")
    for lines in SIZES:
        for fmt in FORMATS:
            if lines > 1_000_000 and fmt not in LARGE_FORMATS:
                continue
            log = OUT / f"{fmt}-{lines}.log"
            report(lines, fmt, log, measure(lines, fmt))
            sys.stdout.flush()


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], sys.argv[3], sys.argv[4])))
    else:
        main()
