"""Small frames and file helpers shared by the store tests."""

from pathlib import Path

from rca import record


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
