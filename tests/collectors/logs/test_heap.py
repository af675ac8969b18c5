"""``heap.keep_freed_heap``: block-sized buffers freed and allocated again stop faulting."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from collectors.logs import heap

_CHURN = """
import resource, sys
from collectors.logs.heap import keep_freed_heap
took = keep_freed_heap() if sys.argv[1] == "keep" else None
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for i in range(40):  # a block, its masks and its offsets: allocated, touched, freed
    bufs = [bytearray(n << 20) for n in (4, 4, 8, 16)]
    for b in bufs:
        b[::4096] = b"x" * len(b[::4096])
    del bufs, b
print(took, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""

glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")


def _faults(mode: str) -> tuple[str, int]:
    out = subprocess.run([sys.executable, "-c", _CHURN, mode], capture_output=True,
                         text=True, check=True).stdout.split()
    return out[0], int(out[1])


@glibc
def test_block_sized_buffers_fault_once_not_per_block():
    took, kept = _faults("keep")
    _, default = _faults("default")
    pages = (32 << 20) // 4096  # one round's buffers
    assert took == "True"
    assert default >= 20 * pages  # glibc's own thresholds: a fresh mmap per block
    assert kept < 3 * pages  # the heap keeps them: the pages are touched about once


def test_the_thresholds_hold_a_block_and_its_temporaries():
    from collectors.logs.blocks import BLOCK_BYTES

    assert heap.MMAP_BYTES > 2 * BLOCK_BYTES
    assert heap.TRIM_BYTES >= heap.MMAP_BYTES


def test_without_glibc_nothing_is_changed(monkeypatch):
    monkeypatch.setattr(heap, "_done", False)
    monkeypatch.setattr(heap, "_mallopt", lambda: None)
    assert heap.keep_freed_heap() is False
