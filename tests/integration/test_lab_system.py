"""The system-level lab scenarios end to end (``make lab``; marked ``lab_full``): a real
memory cgroup OOM loop, a real CFS quota, a real tbf-shaped link with a kubelet-like
prober, a real full conntrack table — each through ``rca lab NAME --quick`` as root.

Each must rank its injected cause first and leave nothing behind: the namespaces, links
and processes (``tests.integration.test_lab.assert_nothing_left``), the lab's cgroups
(``rcalab-<id>-*`` under the memory and cpu hierarchies) and, for conntrack-full, the
global ``nf_conntrack_max`` as it was, with no saved copy left over.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rca.lab import conntrack
from rca.lab.cgroups import detect
from tests.integration.test_lab import lab

pytestmark = [pytest.mark.integration, pytest.mark.lab_full]


@pytest.fixture(scope="module", autouse=True)
def _root():
    if os.geteuid() != 0:
        pytest.fail("the fault lab needs root: run `make lab` as root")


def _no_cgroups_left(lab_id: str) -> None:
    for parent in detect().parents.values():
        left = list(Path(parent).glob(f"rcalab-{lab_id}-*"))
        assert not left, f"cgroups left behind: {left}"


def _ranks_first(name: str, cause: str, also: str | None = None) -> dict:
    code, (result,), err = lab(name)
    assert result["error"] == "", result["error"]
    assert result["top"] == cause and result["rank"] == 1, result
    if also:
        assert also in result["ranked"], result
    assert code == 0, err
    _no_cgroups_left(result["lab_id"])
    return result


def test_oom_ranks_memory_oom_kill_first():
    _ranks_first("oom", "memory.oom_kill")


def test_cpu_throttle_ranks_throttling_above_the_slow_app():
    result = _ranks_first("cpu-throttle", "cpu.throttling")
    ranked = result["ranked"]
    if "app.slow_response" in ranked:
        assert ranked.index("app.slow_response") > ranked.index("cpu.throttling")


def test_probe_saturation_ranks_the_tight_probe_first():
    _ranks_first("probe-saturation", "probe.timeout_too_tight")


def test_conntrack_full_is_filed_under_resolver_timeout_and_the_maximum_restored():
    before = conntrack.MAX_PATH.read_text()
    _ranks_first("conntrack-full", "dns.resolver_timeout")
    assert conntrack.MAX_PATH.read_text() == before
    assert not conntrack.SAVED.exists()
