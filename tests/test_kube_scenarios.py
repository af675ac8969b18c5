"""What ``rca eval`` does not grade on the Kubernetes-side days: a decoy's look-alike
scores nothing at all (not merely second), and on the two-cause day of seed 004 each
incident's cause wins by evidence, not by a tie, and names what to act on.

The days are written by the replay, collected and analysed through the CLI as a user
runs them; recall, precision and AC@1 over the whole corpus are ``test_eval_corpus``'s.
"""

import json

import pandas as pd
import pytest

from rca.cli import main
from rca.replay import generate
from tests.scenarios.kube import SCENARIOS

SLACK = pd.Timedelta(minutes=2)

#: decoy -> the look-alike cause that must not fire on any incident of its day (the
#: decoys without any incident are held to that by the corpus gate's quiet-day count)
LOOK_ALIKES = {"decoy-rollout-drain": "lb.dead_backend"}
CASES = ["dead-backend-dev-target", *LOOK_ALIKES]


def _analyse(scen, tmp_path, capsys):
    key = json.loads((scen / "expected.json").read_text())
    window = ["--since", key["window"]["since"], "--until", key["window"]["until"],
              "--tz", key["tz"], "--store", str(tmp_path / "store")]
    sources = [a for p in sorted((scen / "kube").glob("*.json")) for a in ("--kube", str(p))]
    sources += [a for p in sorted((scen / "metrics").glob("*.om"))
                for a in ("--metrics-file", str(p))]
    if any((scen / "logs").glob("*")):  # seed 001's day has only kube and node data
        sources += ["--logs", str(scen / "logs" / "*")]
    assert main(["collect", *window, *sources]) == 0
    capsys.readouterr()
    assert main(["analyze", *window, "-o", "json"]) == 0
    return json.loads(capsys.readouterr().out), key


@pytest.mark.parametrize("name", CASES)
def test_scenario_is_found_and_ranked(name, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RCA_CONFIG", raising=False)
    result, key = _analyse(generate(SCENARIOS[name](), tmp_path / name), tmp_path, capsys)
    found, expected = result["incidents"], key["incidents"]
    assert len(found) == len(expected), [(i["start"], i["symptoms"]["kinds"]) for i in found]
    for inc, exp in zip(found, expected, strict=True):
        start, end = pd.Timestamp(inc["start"]), pd.Timestamp(inc["end"])
        assert start - SLACK <= pd.Timestamp(exp["end"])
        assert pd.Timestamp(exp["start"]) <= end + SLACK
        top = inc["causes"][0]
        assert top["id"] in [exp["cause"], *exp["also"]], (exp["cause"], inc["causes"][:2])
        assert top["entity"], "the first cause names what to act on"
        assert top["score"] > inc["causes"][1]["score"], "first by evidence, not by a tie"
    look_alike = LOOK_ALIKES.get(name)
    for inc in found if look_alike else []:
        mine = next(c for c in inc["causes"] if c["id"] == look_alike)
        assert mine["score"] == 0.0, mine["summary"]
