"""rca eval's grading: matching with slack, AC@k over judged causes, false incidents."""

import pytest

from rca.evaluate import SLACK, grade, total
from rca.finding import Analysis, Finding, Incident
from tests.rca.frames import at


def _inc(t0, t1, *ranked, entity=""):
    causes = [Finding(c, 0.9 - i * 0.1, "", entity=entity) for i, c in enumerate(ranked)]
    return Incident(f"INC-{t0}", at(t0), at(t1), {}, {}, causes)


def _expected(*items):
    return {"incidents": [{"start": at(a).isoformat(), "end": at(b).isoformat(), "cause": c,
                           **({"entity": e} if e else {})} for a, b, c, e in items]}


def test_right_answer_scores_full_marks():
    g = grade("s", _expected((0, 60, "dns.resolver_timeout", "")),
              Analysis([_inc(5, 70, "dns.resolver_timeout", "app.slow_response")], []), 1.0)
    assert (g.matched_expected, g.matched_found, g.at1, g.at3) == (1, 1, 1, 1)
    assert g.misses == []


def test_second_place_counts_for_ac3_only():
    g = grade("s", _expected((0, 60, "app.slow_response", "")),
              Analysis([_inc(0, 60, "dns.resolver_timeout", "app.slow_response")], []), 1.0)
    assert (g.at1, g.at3) == (0, 1)
    assert "ranked" in g.misses[0]


def test_unjudged_causes_do_not_count_as_ranked():
    inc = _inc(0, 60, "x.other")
    inc.causes = [Finding("dns.resolver_timeout", 0.0, "", status="no_data")] + inc.causes
    g = grade("s", _expected((0, 60, "dns.resolver_timeout", "")), Analysis([inc], []), 1.0)
    assert g.at3 == 0


@pytest.mark.parametrize("offset,matched", [
    (SLACK.total_seconds(), 1),  # found incident begins right at the slack's edge
    (SLACK.total_seconds() + 1, 0),  # a second later: a miss and a false incident
])
def test_slack_edge(offset, matched):
    found = Analysis([_inc(60 + offset, 200 + offset, "a.b")], [])
    g = grade("s", _expected((0, 60, "a.b", "")), found, 1.0)
    assert g.matched_expected == matched
    assert g.matched_found == matched


def test_entity_hit_and_quiet_day_totals():
    hit = grade("a", _expected((0, 60, "n.s", "node/w3")),
                Analysis([_inc(0, 60, "n.s", entity="node/w3")], []), 1.0)
    miss = grade("b", _expected((0, 60, "n.s", "node/w3")),
                 Analysis([_inc(0, 60, "n.s", entity="node/w9")], []), 1.0)
    quiet = grade("q", _expected(), Analysis([_inc(0, 60, "n.s")], []), 1.0)
    t = total([hit, miss, quiet])
    assert t.entity_hit_rate == 0.5
    assert (t.false_on_quiet, t.quiet_days) == (1, 1)
    assert t.precision == pytest.approx(2 / 3)
    assert t.recall == 1.0
