"""http_4xx_wave: one 4xx status far above its own baseline, not scattered client errors."""

import pytest

from rca.config import DEFAULTS
from rca.incidents import Inputs, http_4xx_wave
from tests.rca.frames import at, req, requests

TH = DEFAULTS["thresholds"]["http_4xx_wave"]


def detect(rows, th=TH):
    inputs = Inputs({"requests": requests(rows)}, at(3600), at(3 * 3600))
    return http_4xx_wave.DETECTOR.detect(inputs, dict(th))


def background():
    return [req(t, "web", 200, 0.5, side="server", station="10.0.0.9")
            for t in range(0, 3 * 3600, 30)]


def wave(n, status=413, start=5000.0, span=599.0):
    step = span / max(n - 1, 1)
    return [req(start + i * step, "upload", status, 0.001, side="server", station="10.1.2.3")
            for i in range(n)]


def test_wave_of_413s_fires_with_status_client_and_service():
    (s,) = detect(background() + wave(12))
    assert s.figures["http_4xx_status"] == "413" and s.figures["http_4xx_count"] == 12
    assert s.scope["stations"] == ["10.1.2.3"] and s.scope["services"] == ["upload"]
    assert s.start == at(5000)


@pytest.mark.parametrize("n, fires", [(10, True), (9, False)])
def test_min_count_edge(n, fires):
    assert bool(detect(background() + wave(n))) is fires


@pytest.mark.parametrize("spacing, fires", [(300, True), (301, False)])
def test_gap_edge(spacing, fires):
    # ten 413s, each `spacing` seconds after the last: one wave only if they join
    rows = [req(3700 + i * spacing, "upload", 413, side="server") for i in range(10)]
    assert bool(detect(background() + rows)) is fires


@pytest.mark.parametrize("baseline_404s, fires", [
    (12, True),   # the wave runs 5.0x the status's own rate over the baseline
    (13, False),  # 4.6x: a service that always answers some 404s
])
def test_baseline_ratio_edge(baseline_404s, fires):
    # the record starts at 0 and the wave at 3600: the baseline is one hour
    base = [req(i * 3600 / baseline_404s, "upload", 404, side="server")
            for i in range(baseline_404s)]
    rows = background() + base + wave(10, 404, start=3600.0, span=599.0)
    assert bool(detect(rows)) is fires


def test_scattered_400s_all_day_are_not_a_wave():
    # thirty 400s over three hours: the 2021-08-23 kind of noise
    rows = background() + [req(100 + i * 359, "login", 400, side="server") for i in range(30)]
    assert detect(rows) == []


def test_499_is_left_to_failed_requests():
    assert detect(background() + wave(20, 499)) == []


@pytest.mark.parametrize("busy, fires", [
    (40, True),   # 10 of 50 answers of the service in the wave's span: a fifth
    (41, False),  # 10 of 51: client mistakes on a busy service
])
def test_min_share_edge(busy, fires):
    ok = [req(5000 + i * 599 / busy, "upload", 200, 0.1, side="server") for i in range(busy)]
    assert bool(detect(background() + ok + wave(10))) is fires
