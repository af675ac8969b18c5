"""The public Python API: ``rca.open(store, since=…, tz=…)`` and what it returns.

Why a package of its own: the notebook, users' scripts and the ``analyze``/``report``
commands go through it, while the engine underneath stays pure and free to change.
"""

from rca.api.incident import IncidentView
from rca.api.select import select
from rca.api.session import Session, open

__all__ = ["IncidentView", "Session", "open", "select"]
