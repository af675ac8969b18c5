"""Grading one run from ``rca analyze -o json`` and the injection window."""

from datetime import UTC, datetime

from rca.lab.run import RUN_CONFIG, Result, grade

FAULT = (datetime(2026, 11, 30, 23, 39, tzinfo=UTC).timestamp(),
         datetime(2026, 11, 30, 23, 39, 25, tzinfo=UTC).timestamp())


def _incident(start, end, *causes):
    return {"start": start, "end": end,
            "causes": [{"id": c, "status": "ok", "score": s} for c, s in causes]}


def _result(expect=True):
    return Result("dns-drop", "dns.resolver_timeout", expect)


def test_truth_first_on_the_overlapping_incident_passes():
    analysis = {"incidents": [
        _incident("2026-11-30T23:20:00+00:00", "2026-11-30T23:21:00+00:00",
                  ("app.slow_response", 0.9)),  # far from the fault: not the one judged
        _incident("2026-11-30T23:39:07+00:00", "2026-11-30T23:39:44+00:00",
                  ("dns.resolver_timeout", 0.4), ("config.wrong_target", 0.3)),
    ]}
    r = grade(_result(), analysis, FAULT)
    assert (r.passed, r.rank, r.top, r.incidents) == (True, 1, "dns.resolver_timeout", 2)
    assert r.incident == ("2026-11-30T23:39:07+00:00", "2026-11-30T23:39:44+00:00")


def test_truth_second_fails_and_says_its_rank():
    analysis = {"incidents": [_incident("2026-11-30T23:39:07+00:00",
                                        "2026-11-30T23:39:44+00:00",
                                        ("app.slow_response", 0.5),
                                        ("dns.resolver_timeout", 0.4))]}
    r = grade(_result(), analysis, FAULT)
    assert (r.passed, r.rank, r.top) == (False, 2, "app.slow_response")


def test_causes_not_judged_or_scored_zero_do_not_rank():
    inc = _incident("2026-11-30T23:39:07+00:00", "2026-11-30T23:39:44+00:00",
                    ("app.slow_response", 0.0), ("dns.resolver_timeout", 0.4))
    inc["causes"].insert(0, {"id": "network.saturation", "status": "no data", "score": 0.5})
    r = grade(_result(), {"incidents": [inc]}, FAULT)
    assert (r.passed, r.rank) == (True, 1)


def test_no_incident_where_one_was_injected_fails():
    r = grade(_result(), {"incidents": []}, FAULT)
    assert (r.passed, r.rank, r.top) == (False, None, "")


def test_quiet_runs_pass_only_without_any_incident():
    assert grade(_result(expect=False), {"incidents": []}, FAULT).passed
    noisy = {"incidents": [_incident("2026-11-30T23:50:00+00:00", "2026-11-30T23:51:00+00:00",
                                     ("app.slow_response", 0.2))]}
    assert not grade(_result(expect=False), noisy, FAULT).passed


def test_run_config_changes_time_resolution_only():
    # a lab run may scale *when* things are looked at, never a cause's threshold
    assert set(RUN_CONFIG["thresholds"]) == {"incidents"}
    assert set(RUN_CONFIG["thresholds"]["incidents"]) == {"pad_s"}
