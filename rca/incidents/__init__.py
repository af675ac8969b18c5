"""Incident detection: one detector per symptom, registered here, merged into incidents.

Every detector module defines ``DETECTOR`` (``rca.incidents.base.Detector``): its name
(also its config section ``thresholds.<name>``), the tables it reads, its thresholds with
the reason for each, and a pure ``detect(inputs, th) -> [Symptom]``. ``detect`` runs them
all and merges what overlaps (``rca.incidents.merge``). A detector that raises is isolated:
its error is returned as a gap and the others still run.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from rca.entities import app_requests, nodes_for_services, same_service
from rca.finding import Incident
from rca.incidents import (
    cannot_start,
    failed_requests,
    http_4xx_wave,
    latency_regression,
    oom_kills,
    restarts,
)
from rca.incidents.base import Detector, Inputs, Symptom
from rca.incidents.failed_requests import failures
from rca.incidents.merge import merge
from rca.rule import Threshold

__all__ = ["DETECTORS", "MERGE_THRESHOLDS", "Detector", "Inputs", "Symptom", "app_requests",
           "detect", "failures", "nodes_for_services", "same_service"]

log = logging.getLogger(__name__)

DETECTORS: dict[str, Detector] = {d.name: d for d in (
    failed_requests.DETECTOR,
    http_4xx_wave.DETECTOR,
    cannot_start.DETECTOR,
    oom_kills.DETECTOR,
    restarts.DETECTOR,
    latency_regression.DETECTOR,
)}

#: ``thresholds.incidents``: how symptoms merge and how much time around them is evidence.
MERGE_THRESHOLDS: dict[str, Threshold] = {
    "merge_gap_s": Threshold(60.0, "symptoms on overlapping scope whose spans come within a "
                             "minute are one fault seen twice (timeouts in station logs, 504s "
                             "at the ingress, kills in events); the same minute the evidence "
                             "window is padded by. Each detector groups its own symptom"),
    "flicker_gap_s": Threshold(600.0, "a run of incidents on the same scope each within ten "
                               "minutes of the last is one flickering fault…"),
    "flicker_min_bursts": Threshold(3, "…when there are at least three: two bursts nine "
                                    "minutes apart stay two (2021-08-23 15:54 and 16:03)"),
    "pad_s": Threshold(60.0, "the evidence window extends this far around the symptoms, "
                       "because a cause (a dropped DNS packet, a saturated link) starts "
                       "before the first symptom"),
    "baseline_s": Threshold(3600.0, "the hour before an incident is what normal looks like: "
                            "long enough to hold hundreds of requests at 361/h, short enough "
                            "to share the time of day"),
}


def detect(inputs: Inputs, thresholds: Mapping[str, Mapping[str, Any]],
           detectors: Mapping[str, Detector] | None = None) -> tuple[list[Incident], list[dict]]:
    """Incidents in the window, and the gaps of detectors that failed."""
    symptoms: list[Symptom] = []
    gaps: list[dict] = []
    for det in (detectors if detectors is not None else DETECTORS).values():
        th = {**det.defaults(), **dict(thresholds.get(det.name, {}))}
        try:
            found = det.detect(inputs, th)
        except Exception as exc:  # one broken detector must not hide the others
            log.exception("detector %s failed", det.name)
            gaps.append({"source": f"detector:{det.name}",
                         "message": f"detector failed: {type(exc).__name__}: {exc}"})
            continue
        symptoms += [s for s in found if s.start >= inputs.since]
    merge_th = {**{k: t.default for k, t in MERGE_THRESHOLDS.items()},
                **dict(thresholds.get("incidents", {}))}
    return merge(symptoms, merge_th), gaps

