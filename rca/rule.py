"""What every rule (symptom detector or cause) declares about a threshold.

Why a record and not a bare number: a threshold without its reason cannot be tuned by the
person who inherits it. Each default carries the reason it is what it is; config takes its
defaults from the rules (``thresholds.<rule>.<name>``) and ``rca config`` shows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Threshold"]


@dataclass(frozen=True)
class Threshold:
    default: Any  # int, float or list; config type-checks overrides against it
    reason: str
