"""suspects: series ranked by robust change at the onset; unexplained incidents say why."""

import json

import numpy as np
import pytest

from rca import record
from rca.config import DEFAULTS
from rca.finding import Finding, Window
from rca.suspects import suspects, unexplained
from tests.rca.frames import at

TH = DEFAULTS["thresholds"]["suspects"]
WINDOW = Window(at(3600), at(3900), at(0), {})


def _metrics(series: dict[str, list[tuple[float, float]]]):
    rows = []
    for name_labels, points in series.items():
        name, _, inst = name_labels.partition("@")
        labels = json.dumps({"instance": inst or "n1:9100"}, sort_keys=True)
        rows += [{"time": at(t), "row_id": f"{name_labels}{t}", "name": name,
                  "entity": f"node/{inst or 'n1'}", "labels": labels, "value": v}
                 for t, v in points]
    return record.frame("metrics", rows)


def _steady(level, noise=0.0, jump=None, seed=0):
    rng = np.random.default_rng(seed)
    pts = [(t, level + rng.normal(0, noise) if noise else level) for t in range(0, 3600, 30)]
    return pts + [(t, jump if jump is not None else level) for t in range(3600, 3900, 30)]


def test_the_series_that_jumped_ranks_first_and_the_noisy_one_does_not_make_it():
    m = _metrics({"node_load1": _steady(10, 0.2, jump=30),
                  "node_memory_Active_bytes": _steady(5e9, 1e9, jump=7e9, seed=1),
                  "node_procs_running": _steady(4)})
    got = suspects(m, WINDOW, TH)
    assert [s["series"].split("{")[0] for s in got] == ["node_load1"]
    assert got[0]["entity"] == "node/n1" and "3.0x" in got[0]["change"]


def test_counters_are_compared_as_rates_across_a_reset():
    # 1/s all along, reset to 0 at t=1800; at the incident 20/s
    pts = [(t, (t if t < 1800 else t - 1800) * 1.0) for t in range(0, 3600, 30)]
    last = pts[-1][1]
    pts += [(t, last + (t - 3570) * 20.0) for t in range(3600, 3900, 30)]
    got = suspects(_metrics({"node_network_receive_drop_total": pts}), WINDOW, TH)
    assert got and got[0]["before"] == pytest.approx(1.0) and got[0]["during"] == 20.0


@pytest.mark.parametrize("points,found", [(5, True), (4, False)])
def test_min_baseline_points_edge(points, found):
    pts = [(3600 - 30 * i, 1.0 + 0.01 * (i % 2)) for i in range(points, 0, -1)]
    pts += [(t, 9.0) for t in range(3600, 3900, 30)]
    assert bool(suspects(_metrics({"g": pts}), WINDOW, TH)) is found


@pytest.mark.parametrize("min_score,found", [(2.9, True), (3.1, False)])
def test_min_score_edge(min_score, found):
    # baseline alternates 1.0 / 1.2: median 1.1, MAD 0.1 -> sigma 0.14826; a jump to
    # 1.1 + 3 sigma = 1.5448 scores exactly 3.0
    pts = [(t, 1.0 if (t // 30) % 2 else 1.2) for t in range(0, 3600, 30)]
    pts += [(t, 1.1 + 3 * 0.14826) for t in range(3600, 3900, 30)]
    got = suspects(_metrics({"g": pts}), WINDOW, {**TH, "min_score": min_score})
    assert bool(got) is found


def test_unexplained_names_the_best_guess_and_the_missing_data():
    causes = [Finding("a.weak", 0.3, "x"),
              Finding("b.blind", 0.0, "not judged: signal s not collected", status="no_data",
                      missing=["signal s not collected"])]
    text = unexplained(causes, TH)
    assert "a.weak 0.30" in text and "signal s not collected" in text


@pytest.mark.parametrize("score,explained", [(0.5, True), (0.49, False)])
def test_explained_min_score_edge(score, explained):
    assert (unexplained([Finding("a.b", score, "")], TH) == "") is explained
