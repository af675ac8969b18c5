"""The manifest: the list of committed parts, replaced atomically.

Why a manifest: a collection writes several parts (one per table and day). Readers see
exactly the parts the manifest lists, and a collection adds its parts with a single
rename of ``manifest.json``, so a run killed at any point leaves all of its rows visible
or none. The manifest carries its own SHA-256: a damaged manifest could otherwise hide a
part or mis-state its time range without any error.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from rca.store.atomic import atomic_write
from rca.store.errors import StoreError

__all__ = ["MANIFEST", "Manifest", "Part"]

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Part:
    """One committed part: where it is, what it holds, how to check it."""

    table: str
    day: str  # YYYY-MM-DD, UTC
    file: str  # relative to the store root: <table>/day=<day>/part-<seq>-<txn>.parquet
    txn: str  # the transaction that wrote it (its staging folder until moved)
    rows: int
    replaces: int  # rows that replaced a row of the same day already stored
    seq_min: int
    seq_max: int
    t_min: int  # ns since the epoch, UTC
    t_max: int
    bytes: int
    sha256: str


@dataclass
class Manifest:
    next_seq: int = 1
    parts: list[Part] = field(default_factory=list)

    @classmethod
    def read(cls, root: Path) -> Manifest:
        path = root / MANIFEST
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls()
        except OSError as exc:
            raise StoreError(f"{path}: cannot read the store's manifest: {exc.strerror}") from exc
        try:
            doc = json.loads(text)
            body = doc["body"]
            if _digest(body) != doc["sha256"]:
                raise ValueError("its SHA-256 does not match its content")
            return cls(int(body["next_seq"]), [Part(**p) for p in body["parts"]])
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"{path}: damaged manifest ({exc}); restore it from a backup: "
                             f"without it the store's parts cannot be trusted") from exc

    def write(self, root: Path) -> None:
        body = {"next_seq": self.next_seq, "parts": [vars(p) for p in self.parts]}
        doc = {"format": "rca store manifest", "sha256": _digest(body), "body": body}
        atomic_write(root / MANIFEST, json.dumps(doc, indent=0, sort_keys=True))

    def of(self, table: str, lo: str = "", hi: str = "9999") -> list[Part]:
        """Parts of ``table`` whose day is within [lo, hi], in write order."""
        return sorted((p for p in self.parts if p.table == table and lo <= p.day <= hi),
                      key=lambda p: (p.seq_max, p.file))


def _digest(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
