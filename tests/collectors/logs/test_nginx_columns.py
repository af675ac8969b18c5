"""The column parser's shortcuts give what the per-line functions give."""

import random

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from collectors.logs.line_bytes import repeated
from collectors.logs.nginx_columns import _PAST_SEGMENT
from collectors.logs.nginx_combined import _first_segment

REQUESTS = [
    "GET /neishi/predict?n=7 HTTP/1.1",  # cut: the service is the first segment
    "GET neishi/x HTTP/1.1",  # no leading slash
    "GET //a//b?x=1 HTTP/1.1",  # slashes doubled
    "GET /a?b/c HTTP/1.1",  # a slash in the query only
    "GET ?q HTTP/1.1",  # a query and no path
    "GET /x/y",  # no protocol
    "GET /%2F/x HTTP/1.1",
    # left whole: a colon (absolute form, a port, a time in the query), no target
    "GET http://h/a/b HTTP/1.1",
    "GET /p/http://x/y HTTP/1.1",
    "GET /a/b:c HTTP/1.1",
    "GET //a//b?t=12:00 HTTP/1.1",
    "GET  HTTP/1.1",
    "G?T /x HTTP/1.1",
    "GET",
    "-",
    "",
    "GET /a b c",
]


def _cut(requests: list[str]) -> list[str]:
    return pc.replace_substring_regex(pa.array(requests, pa.string()), _PAST_SEGMENT,
                                      r"\1\2").to_pylist()


def test_cutting_a_request_after_its_first_segment_keeps_its_service():
    cut = _cut(REQUESTS)
    assert [_first_segment(c) for c in cut] == [_first_segment(r) for r in REQUESTS]
    assert cut[0] == "GET /neishi HTTP/1.1"  # really cut: fewer distinct texts
    assert cut[7:] == REQUESTS[7:]  # a colon or no target: left whole


def test_cutting_random_requests_keeps_their_service():
    """Random targets over the characters that matter to the cut and to the service."""
    rng = random.Random(3)
    alphabet = "ab/?:. %"
    requests = [rng.choice(["GET", "POST", "G?T", ""]) + rng.choice([" ", "  ", ""])
                + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
                + rng.choice([" HTTP/1.1", "", " x y"]) for _ in range(3000)]
    cut = _cut(requests)
    assert [_first_segment(c) for c in cut] == [_first_segment(r) for r in requests]
    assert sum(c != r for c, r in zip(cut, requests, strict=True)) > 300


@pytest.mark.parametrize("text, n", [("server", 3), ("", 2), ("server", 0)])
def test_repeated_text_column(text, n):
    assert repeated(text, n).to_pylist() == [text] * n
