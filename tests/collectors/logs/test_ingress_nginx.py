"""ingress-nginx upstreaminfo lines: exact fields, upstream lists, and which field broke."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from collectors.base import LineError, ParseContext
from collectors.logs import ingress_nginx, read_log
from rca.timeutil import get_zone

SAMPLE = Path(__file__).parents[2] / "data" / "logs" / "ingress-nginx.log"
EXAMPLE = (
    '10.20.1.31 - - [23/Aug/2021:11:03:05 +0800] "POST /predict HTTP/1.1" 200 512 "-" '
    '"python-requests/2.25.1" 6291754 0.412 [inference-neishi-8080] [] 10.244.1.17:8080 512 '
    "0.409 200 6f1c0a3b0e5d4c7a9b2e1f3d4c5b6a79"
)


def ctx() -> ParseContext:
    return ParseContext("ingress.log", get_zone("Asia/Shanghai"))


def test_example_line_gives_exact_row():
    assert ingress_nginx.parse(EXAMPLE, ctx()) == [
        (
            "requests",
            {
                "time": datetime(2021, 8, 23, 3, 3, 5, tzinfo=UTC),
                "side": "server",
                "station": "10.20.1.31",
                "service": "inference-neishi",
                "latency_s": 0.412,
                "status": "200",
                "bytes": 512,
                "request_id": "6f1c0a3b0e5d4c7a9b2e1f3d4c5b6a79",
                "upstream": "10.244.1.17:8080",
            },
        )
    ]


def _with_tail(tail: str, upstream_name: str = "inference-neishi-8080") -> str:
    head = EXAMPLE.split(" [inference-neishi-8080] [] ")[0]
    return f"{head} [{upstream_name}] [] {tail} 6f1c0a3b0e5d4c7a9b2e1f3d4c5b6a79"


@pytest.mark.parametrize(
    "tail, upstream",
    [
        (
            "10.244.1.17:8080, 10.244.2.9:8080 0, 512 5.001, 0.409 504, 200",
            "10.244.1.17:8080, 10.244.2.9:8080",
        ),
        (
            "10.244.1.17:8080 : 127.0.0.1:8181 0 : 548 0.004 : 0.001 401 : 200",
            "10.244.1.17:8080 : 127.0.0.1:8181",
        ),
        ("- - - -", ""),
    ],
)
def test_upstream_lists_and_dash_are_kept_as_text(tail, upstream):
    ((_, row),) = ingress_nginx.parse(_with_tail(tail), ctx())
    assert row["upstream"] == upstream
    assert row["latency_s"] == 0.412
    assert row["request_id"] == "6f1c0a3b0e5d4c7a9b2e1f3d4c5b6a79"


@pytest.mark.parametrize(
    "name, service",
    [("upstream-default-backend", "upstream-default-backend"), ("", ""), ("ml-rgw-80", "ml-rgw")],
)
def test_service_drops_only_a_numeric_port_suffix(name, service):
    ((_, row),) = ingress_nginx.parse(_with_tail("10.0.0.1:80 1 0.1 200", name), ctx())
    assert row["service"] == service


@pytest.mark.parametrize(
    "line, field",
    [
        (EXAMPLE.replace('" 200 512', '" 2OO 512'), "status"),
        (EXAMPLE.replace("0.412", "fast"), "request_time"),
        (EXAMPLE.replace("23/Aug/2021", "32/Aug/2021"), "time"),
        (EXAMPLE.replace("23/Aug/2021", "23/Foo/2021"), "time"),
        (EXAMPLE[:95], "http_user_agent"),
        (EXAMPLE[:110], "request_time"),
        (EXAMPLE.rsplit(" ", 1)[0], "req_id"),
        (EXAMPLE + " extra", "req_id"),
    ],
)
def test_bad_line_names_the_field(line, field):
    with pytest.raises(LineError) as err:
        ingress_nginx.parse(line, ctx())
    assert err.value.field == field


def test_sniff_accepts_upstreaminfo_only():
    assert ingress_nginx.sniff(EXAMPLE)
    combined = EXAMPLE.split(" 6291754 ")[0] + " 0.412"
    assert not ingress_nginx.sniff(combined)


def test_sample_file():
    batch = read_log(SAMPLE, "ingress-nginx", ctx())
    assert (batch.lines, batch.malformed) == (28, 2)
    assert [(m.line, m.field) for m in batch.samples] == [(18, "http_user_agent"), (25, "status")]
    assert all(m.file == str(SAMPLE) for m in batch.samples)
    df = batch.frames["requests"]
    assert len(df) == 26
    assert df.index[0] == datetime(2021, 8, 23, 3, 2, 58, tzinfo=UTC)
    assert df.index[-1] == datetime(2021, 8, 23, 3, 3, 40, tzinfo=UTC)
    row = df[df["request_id"] == "6f1c0a3b0e5d4c7a9b2e1f3d4c5b6a79"].iloc[0]
    assert row["source"] == "ingress-nginx.log:7"
    assert (row["station"], row["service"], row["status"]) == (
        "10.20.1.31",
        "inference-neishi",
        "200",
    )
    assert df["status"].value_counts().to_dict() == {
        "200": 20,
        "504": 2,
        "499": 1,
        "502": 1,
        "503": 1,
        "404": 1,
    }
    assert set(df["service"]) == {
        "inference-neishi",
        "inference-waishi",
        "storage-rgw",
        "upstream-default-backend",
    }
    timeouts = df[df["status"] == "504"]
    assert list(timeouts["latency_s"]) == [10.003, 10.001]
    assert list(timeouts["upstream"]) == [
        "10.244.1.17:8080, 10.244.2.9:8080",
        "10.244.2.9:8080, 10.244.1.17:8080",
    ]
