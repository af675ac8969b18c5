"""A block's lines as bytes: the gathers and checks ``blocks`` builds on."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from collectors.logs.line_bytes import hexdigests, line_array, plain_lines, take_at

BLOCK = b"first line\n\nthird 'quoted'\n caf\xc3\xa9 \nlast\n"
STARTS = np.array([0, 11, 12, 27, 35])
ENDS = np.array([10, 11, 26, 34, 39])


@pytest.mark.parametrize("pick", [[0, 1, 2, 3, 4], [0, 2, 4], [3], []])
@pytest.mark.parametrize("newline", [True, False])
def test_picked_lines_are_the_lines_of_the_block(pick, newline):
    got = line_array(BLOCK, STARTS, np.array(pick, dtype=np.int64), pa.binary(), newline)
    lines = [BLOCK[s:e + 1] for s, e in zip(STARTS, ENDS, strict=True)]
    assert got.to_pylist() == [lines[i] if newline else lines[i][:-1] for i in pick]


def test_take_at_gathers_as_take_does_with_numpy_positions():
    values = pa.array([f"v{i}" for i in range(1000)])
    at = np.array([999, 0, 5, 5, 512], dtype=np.int64)
    assert take_at(values, at).to_pylist() == ["v999", "v0", "v5", "v5", "v512"]
    assert take_at(values, np.array([], dtype=np.int64)).to_pylist() == []


def test_plain_lines_are_printable_ascii_without_edge_spaces():
    data = np.frombuffer(BLOCK, dtype=np.uint8)
    plain, quoted = plain_lines(BLOCK, data, STARTS, ENDS)
    assert plain.tolist() == [True, False, True, False, True]
    assert quoted.tolist() == [False, False, True, False, False]


def test_hexdigests_are_hexdigest():
    digests = np.frombuffer(bytes(range(20)), dtype=np.uint8).reshape(2, 10)
    assert hexdigests(digests).to_pylist() == [bytes(range(10)).hex(),
                                               bytes(range(10, 20)).hex()]
