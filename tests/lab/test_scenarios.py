"""The scenario registry: names, truths from the catalogue, docs, durations."""

from pathlib import Path

import pytest

from rca.causes import REGISTRY as CAUSES
from rca.lab.command import runs_of
from rca.lab.scenarios import SCENARIOS

DOC = (Path(__file__).parents[2] / "docs" / "lab.md").read_text(encoding="utf-8")
#: Scenarios whose evidence needs more than a minute of load even in a quick run, and why.
LONG_QUICK = {"probe-saturation": "link use is a 1-minute rate: it reaches 80 % only after "
                                  "most of a minute of saturation, and the probe kills "
                                  "three periods (30 s) after the link fills"}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_each_scenario_is_registered_by_its_name_and_documented(name):
    scenario = SCENARIOS[name]
    assert scenario.name == name
    assert f"`{name}`" in DOC, f"docs/lab.md says nothing about {name}"
    if scenario.expect_incident:
        assert scenario.cause in CAUSES, f"{name}: {scenario.cause} is not a catalogue cause"
    assert all(a in CAUSES for a in scenario.also)
    # quick: about a minute of load, leaving room for set-up, collection and analysis
    assert scenario.quick.load_s <= (120 if name in LONG_QUICK else 60)
    assert scenario.full.load_s <= 300


def test_control_expects_nothing_and_dns_drop_has_the_use_vc_fix():
    assert not SCENARIOS["control"].expect_incident and SCENARIOS["control"].cause is None
    (fix,) = SCENARIOS["dns-drop"].variants
    assert fix.options == {"use_vc": True} and not fix.expect_incident


def test_all_runs_every_scenario_and_variant():
    runs = runs_of("all")
    assert {s.name for s, _ in runs} == set(SCENARIOS)
    assert len(runs) == len(SCENARIOS) + sum(len(s.variants) for s in SCENARIOS.values())


def test_rules_know_nothing_of_the_lab():
    """The lab grades the rules; a rule that read a lab name or constant would grade
    itself. Nothing under rca/causes or rca/incidents imports or names the lab."""
    root = Path(__file__).parents[2] / "rca"
    words = ("rca.lab", "infer.lab", "rcalab", "station-pc", "infer-node", "dns-node")
    for folder in ("causes", "incidents"):
        for path in (root / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            assert not [w for w in words if w in text], path
