"""body-limit — nginx's default ``client_max_body_size`` (1 MB) refuses camera images (seed 002).

The real fault: uploads went to the front-end port, whose nginx kept its default 1 MB
body limit, and every image was answered ``413 Request Entity Too Large`` before the
service saw it (seed 000's stations send 3–10 MB 2K-camera images). Here every service
sits behind Debian's nginx with its defaults; the stations' baseline images are small
(0.2–0.9 MB); at injection a new station (the 2K camera line) starts uploading
3–10 MB images through the same front end.
"""

from __future__ import annotations

from rca.lab.host import stop
from rca.lab.platform import inference_platform, start_station
from rca.lab.scenario import Scenario

SMALL_IMAGES = (200_000, 900_000)
CAMERA_IMAGES = (3_000_000, 10_000_000)
#: the camera line's request rate: a few images a second, like one more busy station
CAMERA_QPS = 2.0


def build(lab, plan) -> None:
    plan.body_bytes = SMALL_IMAGES
    inference_platform(lab, plan, proxy=True)


def inject(lab, plan):
    camera = start_station(lab, plan, plan.stations + 1, CAMERA_QPS,
                           plan.durations.fault_s, CAMERA_IMAGES)
    return lambda: stop(camera)


SCENARIO = Scenario(
    name="body-limit",
    cause="http.body_too_large",
    describe="a station uploads 3–10 MB images through nginx's default 1 MB body limit",
    seed="002",
    build=build,
    inject=inject,
    tools=("dnsmasq", "nginx"),
)
