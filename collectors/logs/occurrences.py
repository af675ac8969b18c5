"""How many times each line was seen before, over a file of any length, in bounded memory.

Why not a dict of line digests (what the per-line reader keeps): a Python dict entry costs
~100 bytes, so ten million lines hold about a gigabyte. Here each line costs 10 bytes in
sorted numpy runs (an LSM: runs of similar size are merged, so a lookup searches
O(log n) runs); only lines that really repeat go through Python, in a dict of their own.

A filter of the digests seen (one bit per slot, 64 per line up to 16 MB) spares the search
through the runs for most new lines: only a line whose bit is already set is looked up.

The key is the 80-bit digest of the line's occurrence-0 row id (``record.row_id(stream,
text, 0, 0)``), computed anyway for its row: no second hash per line.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MAX_RUN", "Occurrences"]

#: Lines in the largest run. Why a cap: merging two runs of n lines holds ~25 bytes a line
#: more while it runs (250 MB at 10 M lines); runs of 4 M lines cap that at ~100 MB, and a
#: lookup searches one more run per 4 M lines (a few ms per block at 100 M lines).
MAX_RUN = 4_000_000


class Occurrences:
    def __init__(self) -> None:
        self._runs: list[tuple[np.ndarray, np.ndarray]] = []  # (h1 sorted, h2 aligned)
        self._counts: dict[bytes, int] = {}  # lines seen twice or more: how many so far
        self._filter = _SeenFilter(0)
        self._lines = 0

    def count(self, digests: np.ndarray) -> np.ndarray:
        """Occurrence index of each row of ``digests`` ((n, 10) uint8, in line order)."""
        n = len(digests)
        occurrence = np.zeros(n, dtype=np.int64)
        if n == 0:
            return occurrence
        h1 = np.ascontiguousarray(digests[:, :8]).view("<u8").ravel()
        h2 = np.ascontiguousarray(digests[:, 8:10]).view("<u2").ravel()
        order = np.argsort(h1)  # sorted needles: searches walk forward (order of twins: moot)
        h1, h2 = h1[order], h2[order]
        self._grow_filter(n)
        maybe = self._filter.add(h1)  # False: surely not in an earlier block
        before = np.zeros(n, dtype=bool)
        look = np.flatnonzero(maybe)
        if len(look):
            before[order[look]] = self._seen_before(h1[look], h2[look])
        repeated = np.zeros(n, dtype=bool)
        same = h1[1:] == h1[:-1]
        repeated[order[1:][same]] = True
        repeated[order[:-1][same]] = True
        for i in np.flatnonzero(before | repeated).tolist():
            key = digests[i].tobytes()
            seen = self._counts.get(key)
            if seen is None:
                seen = 1 if before[i] else 0
            occurrence[i] = seen
            self._counts[key] = seen + 1
        self._add(h1, h2)
        return occurrence

    def _grow_filter(self, n: int) -> None:
        """A filter of ``BITS_PER_LINE`` bits for each line seen, up to ``FILTER_BITS``:
        a small file costs a small filter. A grown filter is refilled from the runs (each
        doubling reads the lines so far once more: linear in all)."""
        self._lines += n
        want = min(FILTER_BITS, max(3, (self._lines * BITS_PER_LINE - 1).bit_length()))
        if want <= self._filter.bits:
            return
        self._filter = _SeenFilter(want)
        for keys, _ in self._runs:
            self._filter.add(keys)

    def _seen_before(self, h1: np.ndarray, h2: np.ndarray) -> np.ndarray:
        """For sorted ``h1``: which (h1, h2) an earlier block already held."""
        found = np.zeros(len(h1), dtype=bool)
        for keys, tails in self._runs:
            at = np.searchsorted(keys, h1)
            hit = at < len(keys)
            hit[hit] = keys[at[hit]] == h1[hit]
            hits = np.flatnonzero(hit)  # rare: a repeated line (or a 64-bit twin)
            if not len(hits):
                continue
            stop = np.searchsorted(keys, h1[hits], side="right")
            for i, lo, hi in zip(hits.tolist(), at[hits].tolist(), stop.tolist(), strict=True):
                found[i] |= bool((tails[lo:hi] == h2[i]).any())
        return found

    def _add(self, h1: np.ndarray, h2: np.ndarray) -> None:
        self._runs.append((h1, h2))
        while (len(self._runs) > 1 and len(self._runs[-2][0]) <= 2 * len(self._runs[-1][0])
               and len(self._runs[-2][0]) + len(self._runs[-1][0]) <= MAX_RUN):
            newer = self._runs.pop()
            older = self._runs.pop()
            self._runs.append(_merge(older, newer))


#: Bits of the filter of lines seen, at most (2^27: 16 MB). Why: a line's digest is looked
#: up in the runs only when its bit is set, and at 1 M lines 1 % of new lines find theirs
#: set (10 M lines: 7 %), so most of a block's searches through the runs are never made.
FILTER_BITS = 27
#: Filter bits per line seen until ``FILTER_BITS`` (64: ~1.5 % of new lines looked up).
BITS_PER_LINE = 64


class _SeenFilter:
    """One bit per slot of the digest's top ``bits`` bits: a Bloom filter with one hash,
    the digest being uniform already."""

    def __init__(self, bits: int) -> None:
        self.bits = bits
        self._bits = np.zeros(1 << max(bits - 3, 0), dtype=np.uint8)

    def add(self, h1: np.ndarray) -> np.ndarray:
        """Set the bits of ``h1`` (sorted); which of them were set before (maybe seen).

        Sorted, the digests sharing a byte of the filter are neighbours: their bits are
        or-ed together first, then each byte set once (``np.bitwise_or.at`` costs five
        times as much)."""
        if not self.bits:
            return np.ones(len(h1), dtype=bool)
        slot = h1 >> np.uint64(64 - self.bits)
        byte = (slot >> np.uint64(3)).astype(np.intp)
        bit = np.left_shift(np.uint8(1), (slot & np.uint64(7)).astype(np.uint8))
        maybe = (self._bits[byte] & bit) != 0
        first = np.flatnonzero(np.concatenate(([True], byte[1:] != byte[:-1])))
        self._bits[byte[first]] |= np.bitwise_or.reduceat(bit, first)
        return maybe


def _merge(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]):
    """Two sorted runs as one, without sorting again (linear, no index array kept)."""
    at = np.searchsorted(a[0], b[0], side="right") + np.arange(len(b[0]))
    keys = np.empty(len(a[0]) + len(b[0]), dtype=a[0].dtype)
    tails = np.empty(len(keys), dtype=a[1].dtype)
    from_b = np.zeros(len(keys), dtype=bool)
    from_b[at] = True
    keys[at], tails[at] = b
    keys[~from_b], tails[~from_b] = a
    return keys, tails
