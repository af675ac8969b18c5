"""Kubernetes API faults through ``rca collect``, each a named gap that ``rca analyze`` and
the report show: 401, 403 on one namespace, 410 on every continue token, a server that
does not answer. The real ``kubernetes`` client against the stand-in API server (HTTPS on
127.0.0.1); a dropped watch is ``test_kube_watch.py``'s (it reconnects, nothing is lost).
"""

import time

import pandas as pd

from collectors.kube_api import backoff
from tests.collectors.faults import assert_shown, collect_and_show

SINCE, UNTIL = pd.Timestamp("2021-08-22T02:45:00Z"), pd.Timestamp("2021-08-23T02:45:00Z")


def _show(tmp_path, kubeconfig, config="", expect_exit=0, args=()):
    return collect_and_show(tmp_path, SINCE, UNTIL, ["--kubeconfig", str(kubeconfig), *args],
                            config, expect_exit)


def test_401_stops_the_source_with_one_gap(kubeconfig, api, tmp_path):
    api.state.token = "rotated"
    shown = _show(tmp_path, kubeconfig, expect_exit=1)
    assert_shown(shown, "kube", "everything", f"kube: the API server at {api.url} refused "
                 "the credentials (401 Unauthorized)", SINCE, UNTIL)
    assert len(api.state.requests) == 1  # not retried: retrying cannot help


def test_403_on_one_namespace_is_a_gap_and_the_others_land(kubeconfig, api, tmp_path):
    api.state.forbidden.add("ml-serving")
    shown = _show(tmp_path, kubeconfig, args=["--namespace", "ml-serving",
                                              "--namespace", "rook-ceph"])
    assert_shown(shown, "kube", "namespace ml-serving",
                 "403 Forbidden: not allowed to list events, pods", SINCE, UNTIL)
    forbidden = [g for g in shown.gaps if "403" in g["reason"]]
    assert [g["what"] for g in forbidden] == ["namespace ml-serving"]  # one, not one a list


def test_410_on_every_continue_token_is_a_gap_for_that_list(kubeconfig, api, tmp_path):
    api.state.expire_always.add("v1/pods")
    shown = _show(tmp_path, kubeconfig, "sources:\n  kube:\n    page_limit: 1\n")
    assert_shown(shown, "kube", "v1 pods", "410 Gone: the list changed faster than it "
                 "could be paged (3 re-lists)", SINCE, UNTIL)
    # the other lists still landed, each object once
    assert "deployments" in " ".join(api.state.requests)
    fresh = [r for r in api.state.requests if r.startswith("/api/v1/pods") and "continue" not in r]
    assert len(fresh) == 4  # the first list and 3 re-lists: bounded


def test_a_server_that_does_not_answer_is_retried_then_a_gap(kubeconfig, api, tmp_path):
    api.state.hang, api.state.hang_s = 100, 3.0
    t0 = time.monotonic()
    shown = _show(tmp_path, kubeconfig, "sources:\n  kube:\n    timeout_s: 0.5\n"
                  "    retries: 2\n", expect_exit=1)
    took = time.monotonic() - t0
    assert_shown(shown, "kube", "everything", f"kube: the API server at {api.url} did not "
                 "answer events within 0.5 s (timed out) (tried 3 times)", SINCE, UNTIL)
    assert len([r for r in api.state.requests if "/events" in r]) == 3  # bounded
    assert took < 15  # 3 timeouts and two backoffs, then the report; never the hang


def test_one_unanswered_request_is_retried_and_nothing_is_missing(kubeconfig, api, tmp_path):
    api.state.hang, api.state.hang_s = 1, 3.0
    shown = _show(tmp_path, kubeconfig, "sources:\n  kube:\n    timeout_s: 0.5\n")
    assert [g for g in shown.gaps if g["source"] == "kube" and "events" not in g["what"]] == []
    assert "timed out" not in " ".join(g["reason"] for g in shown.gaps)


def test_backoff_doubles_with_jitter_up_to_its_cap():
    waits = {n: [backoff(n) for _ in range(200)] for n in (1, 2, 3, 4, 5, 9)}
    for n, ceiling in ((1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (9, 8.0)):
        assert all(ceiling / 2 <= w <= ceiling for w in waits[n]), n
        assert len(set(waits[n])) > 150  # jittered: collectors do not retry in step
