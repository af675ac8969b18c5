"""The column parser's shortcuts give what the per-line functions give."""

import random

import pyarrow as pa
import pytest

from collectors.logs.line_bytes import repeated
from collectors.logs.nginx_columns import _first_segments
from collectors.logs.nginx_combined import _first_segment

REQUESTS = [
    "GET /neishi/predict?n=7 HTTP/1.1",  # by RE2: the first segment
    "GET neishi/x HTTP/1.1",  # no leading slash
    "GET //a//b?x=1 HTTP/1.1",  # slashes doubled
    "GET /a?b/c HTTP/1.1",  # a slash in the query only
    "GET ?q HTTP/1.1",  # a query and no path
    "GET /x/y",  # no protocol
    "GET /%2F/x HTTP/1.1",
    "GET  HTTP/1.1",  # an empty target
    "G?T /x HTTP/1.1",
    "GET /a b c",
    # by the per-line function: a colon (absolute form, a port, a time), no target
    "GET http://h/a/b HTTP/1.1",
    "GET /p/http://x/y HTTP/1.1",
    "GET /a/b:c HTTP/1.1",
    "GET //a//b?t=12:00 HTTP/1.1",
    "GET",
    "-",
    "",
]


def _services(requests: list[str]) -> list[str]:
    return _first_segments(pa.array(requests, pa.string())).to_pylist()


def test_services_by_re2_equal_the_per_line_function(monkeypatch):
    from collectors.logs import nginx_combined

    asked = []
    per_line = nginx_combined._first_segment
    monkeypatch.setattr(nginx_combined, "_first_segment",
                        lambda r: asked.append(r) or per_line(r))
    assert _services(REQUESTS) == [per_line(r) for r in REQUESTS]
    assert sorted(asked) == sorted(REQUESTS[10:])  # only those went line by line


def test_services_of_random_requests_equal_the_per_line_function():
    """Random targets over the characters that matter to the segment."""
    rng = random.Random(3)
    alphabet = "ab/?:. %"
    requests = [rng.choice(["GET", "POST", "G?T", ""]) + rng.choice([" ", "  ", ""])
                + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
                + rng.choice([" HTTP/1.1", "", " x y"]) for _ in range(3000)]
    assert _services(requests) == [_first_segment(r) for r in requests]


def test_all_plain_requests_need_no_per_line_call():
    requests = [f"POST /{s}/predict?n={i} HTTP/1.1" for i, s in enumerate(["a", "b-c"] * 50)]
    assert _services(requests) == ["a", "b-c"] * 50


@pytest.mark.parametrize("text, n", [("server", 3), ("", 2), ("server", 0)])
def test_repeated_text_column(text, n):
    assert repeated(text, n).to_pylist() == [text] * n
