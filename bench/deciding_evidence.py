"""Which piece of evidence decides each cause, measured on ``rca eval``'s labelled corpus.

Why by knock-out and not by reading the weights: a cause adds up several signs, and which
one its verdict hangs on depends on what the days hold. Here each threshold is set, one at
a time, where its evidence can never hold (an edge no value reaches), the corpus is
analysed again, and the labelled incidents of that cause that stop ranking it first are
counted. A sign whose loss flips most verdicts is what decides the cause; one whose loss
flips none is redundant with the others on these days.

Each scenario is collected once into its own store; only the analysis is repeated.

    python bench/deciding_evidence.py tests/scenarios      # about 1.5 min on 2 cores
    python bench/deciding_evidence.py tests/scenarios --pairs dns.resolver_timeout
"""

from __future__ import annotations

import argparse
import copy
import itertools
import logging
import tempfile
from pathlib import Path

from rca.config import load
from rca.engine import analyze
from rca.evaluate import collect_scenario, expand, grade
from rca.store import Store

NEVER, NOTHING = 1e12, -1.0
#: threshold -> the value at which its evidence can never hold (a group knocks out together)
KNOCK_OUT = {
    "app.slow_response": {"ratio_min": NEVER, "min_slow_s": NEVER},
    "config.wrong_target": {"min_share": NEVER, "new_client_ratio": NEVER,
                            "idle_ratio": NOTHING, "nonprod_markers": []},
    "cpu.throttling": {"ratio_min": NEVER, "slow_ratio_min": NEVER},
    "dns.resolver_timeout": {"resolver_timeout_s": NEVER, "server_ratio_max": NOTHING,
                             "conntrack_ratio_min": NEVER, "min_services": NEVER,
                             "retry_rate_factor": NEVER},
    "http.body_too_large": {"body_limit_bytes": NEVER, "min_count": NEVER, "min_share": NEVER},
    "lb.dead_backend": {"min_expected": NEVER, "fast_fail_s": NOTHING},
    "memory.oom_kill": {"at_limit_ratio": NEVER, "loop_kills": NEVER},
    "network.saturation": {"util_min": NEVER, "rise_factor": NEVER,
                           "server_ratio_max": NOTHING},
    "probe.timeout_too_tight": {"min_kills": NEVER, "timeout_share_min": NEVER,
                                "tight_max_s": NOTHING, "slow_share_min": NEVER,
                                "driver_*": {"driver_util_min": NEVER,
                                             "driver_throttled_min": NEVER,
                                             "driver_blocked_min": NEVER}},
    "scheduling.gpu_fragmentation": {"max_search_pods": 0},
    "storage.io_stall": {"blocked_min": NEVER, "io_busy_min": NEVER, "rise_factor": NEVER,
                         "slow_ratio_min": NEVER},
}


def _values(cause: str, names: tuple[str, ...]) -> dict:
    out: dict = {}
    for name in names:
        value = KNOCK_OUT[cause][name]
        out.update(value if isinstance(value, dict) else {name: value})
    return out


def first_in(days: list, cause: str, knocked: dict) -> tuple[int, int]:
    """(labelled incidents of ``cause`` that rank it first, how many there are)."""
    hits = total = 0
    for name, expected, record in days:
        mine = [e for e in expected["incidents"] if e["cause"] == cause]
        if not mine:
            continue
        config = load()
        config.values = copy.deepcopy(config.values)
        config.values["thresholds"].setdefault(cause.replace(".", "_"), {}).update(knocked)
        g = grade(name, {**expected, "incidents": mine}, analyze(record, config), 0.0)
        hits, total = hits + g.at1, total + len(mine)
    return hits, total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("paths", nargs="+", type=Path)
    ap.add_argument("--pairs", metavar="CAUSE", help="knock out two thresholds at a time")
    args = ap.parse_args()
    logging.disable(logging.CRITICAL)  # a knocked-out cause may log its surprise
    with tempfile.TemporaryDirectory(prefix="rca-deciding-") as tmp:
        days = []
        for d in expand(args.paths, Path(tmp) / "corpus"):
            expected, record = collect_scenario(d, Store(Path(tmp) / "stores" / d.name), load())
            days.append((d.name, expected, record))
        causes = [args.pairs] if args.pairs else list(KNOCK_OUT)
        for cause in causes:
            base, total = first_in(days, cause, {})
            print(f"{cause}: first in {base}/{total} labelled incidents")
            groups = (itertools.combinations(KNOCK_OUT[cause], 2) if args.pairs
                      else ((n,) for n in KNOCK_OUT[cause]))
            for names in groups:
                hits, _ = first_in(days, cause, _values(cause, names))
                print(f"  without {' + '.join(names):40s} first in {hits}/{total} "
                      f"(lost {base - hits})", flush=True)


if __name__ == "__main__":
    main()
