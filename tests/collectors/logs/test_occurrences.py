"""Occurrences count each line's earlier sightings exactly, whatever the seen-filter says:
the filter only skips searches for digests it has surely not seen."""

import numpy as np
import pytest

from collectors.logs import occurrences
from collectors.logs.occurrences import Occurrences


def _blocks(seed: int) -> list[np.ndarray]:
    """Digest blocks where about one row in five repeats an earlier row (same block or
    an earlier one), as (n, 10) uint8 like the block reader's."""
    rng = np.random.default_rng(seed)
    pool = rng.integers(0, 256, size=(400, 10), dtype=np.uint8)
    out = []
    for _ in range(12):
        fresh = rng.integers(0, 256, size=(60, 10), dtype=np.uint8)
        again = pool[rng.integers(0, len(pool), size=15)]
        block = np.concatenate([fresh, again])
        out.append(block[rng.permutation(len(block))])
    return out


def _expected(blocks: list[np.ndarray]) -> list[list[int]]:
    seen: dict[bytes, int] = {}
    result = []
    for block in blocks:
        counts = []
        for row in block:
            key = row.tobytes()
            counts.append(seen.get(key, 0))
            seen[key] = counts[-1] + 1
        result.append(counts)
    return result


@pytest.mark.parametrize("bits", [occurrences.FILTER_BITS, 3])
def test_counts_match_a_dict_of_every_digest(monkeypatch, bits):
    """At 3 bits every slot is set after the first block: every digest is looked up in
    the runs (all false positives), and the counts must not change."""
    monkeypatch.setattr(occurrences, "FILTER_BITS", bits)
    monkeypatch.setattr(occurrences, "MAX_RUN", 150)  # several runs, some never merged
    blocks = _blocks(seed=7)
    counter = Occurrences()
    got = [counter.count(block).tolist() for block in blocks]
    assert got == _expected(blocks)
    assert max(max(c) for c in got) >= 2  # repeats across blocks were really there


def test_a_digest_sharing_a_filter_slot_is_not_counted_as_seen(monkeypatch):
    """Two digests with the same top bits: the second is a filter hit, yet new."""
    monkeypatch.setattr(occurrences, "FILTER_BITS", 8)
    first = np.zeros((1, 10), dtype=np.uint8)
    twin = first.copy()
    twin[0, 0] = 1  # low byte of h1 (little-endian): same top bits, another digest
    counter = Occurrences()
    assert counter.count(first).tolist() == [0]
    assert counter.count(twin).tolist() == [0]
    assert counter.count(np.concatenate([first, twin])).tolist() == [1, 1]
