"""Small frames and file helpers shared by the store tests."""

from pathlib import Path

import pandas as pd

from rca import record


def as_strings(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with its categoricals (the store reads repeating columns so) as strings: the
    types a collector's frame has."""
    cats = [c for c in df.columns if isinstance(df[c].dtype, pd.CategoricalDtype)]
    return df.astype({c: "str" for c in cats}) if cats else df


def requests(times, ids, latency=0.3):
    """Request rows; ``latency`` is one value for all or one per row."""
    latencies = latency if isinstance(latency, list) else [latency] * len(ids)
    return record.frame("requests", [
        {"time": t, "row_id": i, "side": "client", "service": "svc", "latency_s": lat,
         "status": "200"} for t, i, lat in zip(times, ids, latencies, strict=True)])


def events(times, ids, count=1):
    return record.frame("events", [
        {"time": t, "row_id": i, "source": "kube", "reason": "Unhealthy", "count": count,
         "last_seen": t} for t, i in zip(times, ids, strict=True)])


def parts(root: Path, table: str = "requests") -> list[Path]:
    return sorted((root / table).glob("day=*/part-*.parquet"))


def leftovers(root: Path) -> list[Path]:
    """Anything a finished run must not leave: staging folders, temporary files."""
    staged = [p for p in (root / ".staging").rglob("*")] if (root / ".staging").exists() else []
    return staged + [p for p in root.rglob("*.tmp")]
