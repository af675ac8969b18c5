"""Times: zone-less input takes the named zone; relative --since counts back from until."""

import pandas as pd
import pytest

from rca.timeutil import TimeError, get_zone, parse_instant, parse_since, to_display

SHANGHAI = get_zone("Asia/Shanghai")


def test_zone_less_time_is_read_in_the_given_zone():
    assert parse_instant("2021-08-23T11:03:00", SHANGHAI) == pd.Timestamp("2021-08-23T03:03Z")


def test_explicit_offset_wins_over_zone():
    assert parse_instant("2021-08-23T11:03:00+00:00", SHANGHAI) == pd.Timestamp(
        "2021-08-23T11:03Z")


@pytest.mark.parametrize("text,hours", [("24h", 24), ("90m", 1.5), ("7d", 168)])
def test_relative_since(text, hours):
    now = pd.Timestamp("2021-08-24T00:00Z")
    assert parse_since(text, now, SHANGHAI) == now - pd.Timedelta(hours=hours)


def test_fixed_offset_zone_and_display():
    zone = get_zone("+08:00")
    assert to_display(pd.Timestamp("2021-08-23T03:03Z"), zone) == "2021-08-23T11:03:00+08:00"


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(TimeError, match="unknown time zone"):
        get_zone("Mars/Olympus")
    with pytest.raises(TimeError, match="cannot read time"):
        parse_instant("yesterday-ish", SHANGHAI)


def test_named_zone_suffix_is_not_mistaken_for_iso():
    assert parse_instant("2021-08-23 11:03:00 UTC", SHANGHAI) == pd.Timestamp(
        "2021-08-23T11:03Z")


def test_offset_beyond_fourteen_hours_is_refused():
    with pytest.raises(TimeError, match="beyond"):
        get_zone("+25:00")


@pytest.mark.parametrize("name", [
    "/etc/passwd",  # a file that is not a zone: was a ValueError traceback
    "../../../../etc/hostname",  # a path out of the zone folder
    "Etc/../Etc/UTC",  # a real zone reached by a path is still a path
    "zone.tab",  # a file inside the zone folder that is not a zone
    "Foo1",  # a POSIX TZ string dateutil would accept with a made-up offset
    "UTC+99",  # an offset no place has
    "",
])
def test_only_zone_names_and_offsets_are_zones(name):
    with pytest.raises(TimeError):
        get_zone(name)


@pytest.mark.parametrize("name", ["UTC", "Asia/Shanghai", "America/Argentina/Buenos_Aires",
                                  "Etc/GMT-14", "+08:00", "UTC-05:30", "-12:00"])
def test_real_zones_still_pass(name):
    assert get_zone(name).utcoffset(pd.Timestamp("2021-08-23").to_pydatetime()) is not None


def test_times_the_store_cannot_hold_are_refused_at_both_edges():
    from rca.timeutil import EARLIEST, LATEST

    now = pd.Timestamp("2021-08-24T00:00Z")
    assert parse_instant(EARLIEST.isoformat(), SHANGHAI) == EARLIEST  # the edge itself is in
    with pytest.raises(TimeError, match="outside"):
        parse_instant((EARLIEST - pd.Timedelta(seconds=1)).isoformat(), SHANGHAI)
    assert parse_instant((LATEST - pd.Timedelta(seconds=1)).isoformat(), SHANGHAI) < LATEST
    with pytest.raises(TimeError, match="outside"):
        parse_instant(LATEST.isoformat(), SHANGHAI)
    with pytest.raises(TimeError, match="reaches back"):
        parse_since("9999999999d", now, SHANGHAI)
    with pytest.raises(TimeError, match="negative"):
        parse_since("-5h", now, SHANGHAI)  # dateutil read it as 05:00 today
