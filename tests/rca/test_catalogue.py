"""The catalogue stays whole: every registered cause is documented, tested, configured,
and needs only signals that exist."""

import re
from pathlib import Path

import pytest

from rca import signals
from rca.causes import REGISTRY
from rca.config import DEFAULTS

ROOT = Path(__file__).resolve().parents[2]
DOCS = (ROOT / "docs" / "causes.md").read_text(encoding="utf-8")


def test_registry_is_not_empty():
    assert "dns.resolver_timeout" in REGISTRY


@pytest.mark.parametrize("cause_id", sorted(REGISTRY))
def test_cause_has_docs_test_and_config(cause_id):
    module = cause_id.replace(".", "_")
    assert re.search(rf"^## {re.escape(cause_id)}$", DOCS, re.M), "no docs/causes.md entry"
    for heading in ("Meaning", "Impact", "Diagnosis", "Mitigation"):
        section = DOCS.split(f"## {cause_id}\n", 1)[1].split("\n## ", 1)[0]
        assert f"**{heading}.**" in section, f"{cause_id}: docs lack {heading}"
    assert (ROOT / "tests" / "rca" / "causes" / f"test_{module}.py").exists()
    assert module in DEFAULTS["thresholds"], "thresholds belong in config"
    mod = REGISTRY[cause_id]
    assert mod.ID == cause_id and mod.FIX and mod.__doc__


@pytest.mark.parametrize("cause_id", sorted(REGISTRY))
def test_needed_signals_are_declared(cause_id):
    mod = REGISTRY[cause_id]
    for need in (*mod.NEEDS, *mod.WANTS):
        if need.startswith("signal:"):
            assert need[7:] in signals.SIGNALS, f"{cause_id} wants undeclared {need}"
        else:
            assert need in ("requests", "events", "objects", "metrics")
