"""The catalogue stays whole: every registered cause is documented, tested, configured,
and needs only signals that exist."""

import re
import sys
from pathlib import Path

import pytest

from rca import signals
from rca.causes import REGISTRY
from rca.config import DEFAULTS
from rca.incidents import DETECTORS

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
    cause = REGISTRY[cause_id]
    assert cause.config_key == module
    assert DEFAULTS["thresholds"][module] == cause.defaults(), "config defaults come from it"
    assert cause.id == cause_id and cause.fix and cause.needs
    assert sys.modules[cause.judge.__module__].__doc__, "the module says why"
    for name, th in cause.thresholds.items():
        assert len(th.reason) > 20, f"{cause_id}.{name}: a threshold needs its reason"


@pytest.mark.parametrize("cause_id", sorted(REGISTRY))
def test_needed_signals_are_declared(cause_id):
    for name in REGISTRY[cause_id].signals():
        assert name in signals.SIGNALS, f"{cause_id} wants undeclared signal {name}"


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_detector_has_test_config_and_reasons(name):
    det = DETECTORS[name]
    assert (ROOT / "tests" / "rca" / "incidents" / f"test_{name}.py").exists()
    assert DEFAULTS["thresholds"][name] == det.defaults()
    assert sys.modules[det.detect.__module__].__doc__
    for key, th in det.thresholds.items():
        assert len(th.reason) > 20, f"{name}.{key}: a threshold needs its reason"
    for sig in det.wants_signals:
        assert sig in signals.SIGNALS


@pytest.mark.parametrize("cause_id", sorted(REGISTRY))
def test_marks_name_a_declared_signal_and_a_threshold(cause_id):
    cause = REGISTRY[cause_id]
    for sig, key in cause.marks.items():
        assert sig in cause.signals() and key in cause.thresholds
    assert set(cause.lines()) == set(cause.marks)
