"""The accuracy gate: every labelled scenario in tests/scenarios, graded by `rca eval`.

Thresholds from issue 5: recall >= 0.95, precision >= 0.9, AC@1 >= 0.9, and no incident
at all on quiet days. The table is printed so a CI log shows where the tool is wrong.
"""

import json
from pathlib import Path

from rca.cli import main

ROOT_OF_TESTS = Path(__file__).resolve().parent


def test_corpus_meets_the_accuracy_thresholds(capsys):
    args = ["eval", str(ROOT_OF_TESTS / "scenarios"), "--tz", "UTC", "-o", "json",
            "--min-recall", "0.95", "--min-precision", "0.9", "--min-ac1", "0.9",
            "--max-false-on-quiet", "0"]
    code = main(args)
    out = capsys.readouterr().out
    result = json.loads(out)
    with capsys.disabled():
        print("\n" + json.dumps(result["total"]))
        for s in result["scenarios"]:
            for miss in s["misses"]:
                print(f"  {s['name']}: {miss}")
    assert result["total"]["scenarios"] >= 8
    assert code == 0, result["total"]
