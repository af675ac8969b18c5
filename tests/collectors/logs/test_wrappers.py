"""collectors.logs.wrappers: what runtimes and kubectl wrap around a line comes off."""

import json

import pytest

from collectors.base import LineError
from collectors.logs.wrappers import unwrap

LINE = '10.0.0.1 - - [23/Aug/2021:11:03:05 +0800] "GET / HTTP/1.1" 200 1 "-" "-" 0.1'
DOCKER = json.dumps({"log": LINE + "\n", "stream": "stderr", "time": "2021-08-23T03:03:05.1Z"})


@pytest.mark.parametrize("wrapped", [
    LINE, DOCKER, f"2021-08-23T03:03:05.123456789Z stdout F {LINE}",
    f"2021-08-23T11:03:05.1+08:00 stderr P {LINE}", f"2021-08-23T03:03:05Z {LINE}",
])
def test_every_wrapper_comes_off(wrapped):
    assert unwrap(wrapped, keep_time_prefix=False) == LINE


def test_formats_that_read_the_time_prefix_get_the_cri_form():
    assert unwrap(DOCKER, keep_time_prefix=True) == f"2021-08-23T03:03:05.1Z stderr F {LINE}"
    cri = f"2021-08-23T03:03:05Z stdout F {LINE}"
    assert unwrap(cri, keep_time_prefix=True) == cri


@pytest.mark.parametrize("bad", ['{"log": "x"', '{"log": 5, "time": "t"}', '{"log": "x"}'])
def test_a_broken_docker_line_names_the_log_field(bad):
    with pytest.raises(LineError) as err:
        unwrap(bad, keep_time_prefix=False)
    assert err.value.field == "log"


def test_a_json_lines_record_is_not_mistaken_for_a_wrapper():
    record = '{"ts": "2021-08-23T03:02:58Z", "log": "x", "latency_ms": 1}'
    assert unwrap(record, keep_time_prefix=False) == record
