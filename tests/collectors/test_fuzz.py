"""Short mode of the fuzz run (``make soak`` runs >= 1e6 lines per format)."""

import pytest

from tests.collectors import fuzz

#: A couple of seconds per format on a 2-core machine.
SHORT = 6_000


@pytest.mark.parametrize("fmt", [*fuzz.LOG_SAMPLES, "metrics", "kube"])
def test_mutated_lines_never_crash_and_are_all_accounted_for(fmt):
    (figures,) = fuzz.run(SHORT, seed=7, only=[fmt])
    assert figures.crashes == []
    assert figures.lines >= SHORT * 0.9  # blank mutants aside, every line was read
    assert figures.unaccounted == 0
    # the mutants are not all rejected, nor all accepted: the run tests both paths
    assert 0 < figures.kept < figures.lines
    assert figures.malformed > 0


def test_mutate_changes_lines_and_is_reproducible():
    import random

    line = fuzz.seeds("ingress-nginx")[0]
    a, b = random.Random(3), random.Random(3)
    first = [fuzz.mutate(line, a) for _ in range(50)]
    again = [fuzz.mutate(line, b) for _ in range(50)]
    assert first == again
    assert sum(m != line for m in first) > 40
