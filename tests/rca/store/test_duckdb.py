"""The store is plain Parquet in a Hive layout: DuckDB reads it and, de-duplicating as
``docs/store.md`` says, counts what rca loads."""

from pathlib import Path

import duckdb
import pytest

from rca import record
from rca.cli import main
from rca.store import Store
from tests.rca.store.helpers import events

DATA = Path(__file__).resolve().parents[2] / "data"

#: The de-duplication of docs/store.md: the latest write of each row_id.
LATEST = """
SELECT count(*) FROM (
    SELECT * FROM read_parquet('{glob}', hive_partitioning = true)
    QUALIFY row_number() OVER (PARTITION BY row_id ORDER BY write_seq DESC) = 1)
"""


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RCA_CONFIG", raising=False)
    root = tmp_path / "s"
    window = ["--since", "2021-08-22T00:00:00+08:00", "--until", "2021-08-25T00:00:00+08:00",
              "--tz", "Asia/Shanghai", "-o", "json"]
    sources = ["--logs", str(DATA / "logs" / "*"), "--kube", str(DATA / "kube" / "mixed.json"),
               "--metrics-file", str(DATA / "metrics" / "node_exporter.om")]
    for _ in range(2):  # re-collected: nothing doubles
        assert main(["collect", "--store", str(root), *window, *sources]) == 0
    s = Store(root)
    s.write("events", events(["2021-08-22T23:59:00Z"], ["moved"], count=1))
    s.write("events", events(["2021-08-23T00:01:00Z"], ["moved"], count=2))  # stored twice
    return s


def test_duckdb_counts_what_rca_loads(store):
    con = duckdb.connect()
    for table in record.TABLES:
        glob = f"{store.root}/{table}/**/*.parquet"
        rca_rows = len(store.load(table))
        assert rca_rows > 0, table
        assert con.execute(LATEST.format(glob=glob)).fetchone()[0] == rca_rows, table
    raw = con.execute(f"SELECT count(*) FROM read_parquet('{store.root}/events/**/*.parquet', "
                      f"hive_partitioning = true)").fetchone()[0]
    assert raw == len(store.load("events")) + 1  # the moved event, before de-duplication


def test_duckdb_sees_the_day_partition_and_utc_times(store):
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    got = con.execute(f"""
        SELECT day, min(time) FROM read_parquet('{store.root}/requests/**/*.parquet',
                                                hive_partitioning = true)
        GROUP BY day ORDER BY day""").fetchall()
    assert got and all(str(t.date()) == str(day) for day, t in got)
