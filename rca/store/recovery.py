"""What a killed run leaves behind, found and put right by the next writer.

Why at the next writer and not at exit: ``kill -9`` and power cuts run no handler. Under
the write lock nothing else is writing, so everything not accounted for by the manifest is
a leftover: committed parts still in staging are moved into place (the commit happened),
uncommitted staging folders and ``*.tmp`` files are removed (it did not), and Parquet files
in a day folder that the manifest does not list (a compaction killed after its commit,
before removing what it merged) are removed. Each action is reported to the user.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from rca import record
from rca.store.atomic import TMP_SUFFIX
from rca.store.manifest import Manifest
from rca.store.transaction import STAGING, move_into_place

__all__ = ["recover"]


def recover(root: Path, manifest: Manifest) -> list[str]:
    """Put the store back to exactly what ``manifest`` says; returns what was done."""
    done = [f"finished moving committed part {f}"
            for f in move_into_place(root, manifest.parts)]
    staging = root / STAGING
    for folder in sorted(staging.iterdir()) if staging.is_dir() else []:
        files = sum(1 for p in folder.rglob("*") if p.is_file())
        shutil.rmtree(folder, ignore_errors=True)
        done.append(f"removed {files} file(s) of an uncommitted run ({folder.name})")
    listed = {p.file for p in manifest.parts}
    for path in _leftovers(root, listed):
        path.unlink(missing_ok=True)
        done.append(f"removed leftover {path.relative_to(root)}")
    return done


def _leftovers(root: Path, listed: set[str]) -> list[Path]:
    out = [p for p in root.glob(f".*{TMP_SUFFIX}")]
    for folder in ("collections", "watch"):  # the store's other files, written atomically
        out += [p for p in (root / folder).glob(f".*{TMP_SUFFIX}")]
    for table in record.TABLES:
        for day in (root / table).glob("day=*"):
            for p in day.iterdir():
                rel = p.relative_to(root).as_posix()
                if p.is_file() and (p.name.endswith(TMP_SUFFIX) or rel not in listed):
                    out.append(p)
    return out
