"""The Kubernetes collector: kubectl JSON → events and objects rows, and nothing secret."""

import base64
import copy
import json
import math
from pathlib import Path

import pandas as pd
import pytest
from dateutil import tz

from collectors.base import ParseContext
from collectors.kube import KubeBatch, read_kube, shape_document, shape_items

DATA = Path(__file__).resolve().parents[1] / "data" / "kube"
COLLECTED = pd.Timestamp("2021-08-23T02:45:00Z")
TOKEN = "fake-token-3f9a1c7e5b2d4068"
RGW = "pod/rook-ceph/rook-ceph-rgw-my-store-a-66b7d8cc9d-vrhkm"
TRITON = "pod/ml-serving/triton-inference-server-7c9d8f6b5-x2k4p"


def ctx(name="f.json"):
    return ParseContext(file=name, zone=tz.gettz("Asia/Shanghai"),
                        settings={"collected_at": COLLECTED})


def read(name):
    return read_kube(DATA / name, ctx(name))


def ts(text):
    return pd.Timestamp(text).tz_convert("UTC")


def by(df, **match):
    """The single row whose columns equal ``match``."""
    rows = df
    for col, value in match.items():
        rows = rows[rows[col] == value]
    assert len(rows) == 1, f"{match}: {len(rows)} rows"
    return rows.iloc[0], rows.index[0]


def shaped(items, **kw):
    batch = KubeBatch(source="test")
    shape_items(items, ctx(), batch, **kw)
    return batch


# -- events ---------------------------------------------------------------------------------
def test_event_list_rows():
    b = read("events-rook-ceph.json")
    assert (b.lines, b.malformed, b.rows()) == (4, 0, {"events": 4})
    ev = b.frames["events"]
    row, time = by(ev, reason="Unhealthy")
    assert row["message"] == ("Liveness probe failed: Get http://10.42.2.44:80/: net/http: "
                              "request canceled (Client.Timeout exceeded while awaiting headers)")
    assert (row["source"], row["type"], row["kind"], row["object"]) == (
        "kube", "Warning", "Pod", RGW)
    assert (row["namespace"], row["node"], row["count"]) == ("rook-ceph", "worknode2", 249)
    assert row["first_seen"] == ts("2021-08-20T03:12:45Z")
    assert row["last_seen"] == time == ts("2021-08-23T02:41:07Z")
    killing, _ = by(ev, reason="Killing")
    assert (killing["type"], killing["count"]) == ("Normal", 65)
    assert killing["message"] == "Container rgw failed liveness probe, will be restarted"
    pulled, _ = by(ev, reason="Pulled")
    assert (pulled["count"], pulled["last_seen"]) == (66, ts("2021-08-23T02:41:38Z"))


def test_events_k8s_io_fields():
    row, time = by(read("events-rook-ceph.json").frames["events"], reason="BackOff")
    assert row["message"].startswith("Back-off restarting failed container rgw in pod")
    assert (row["object"], row["namespace"], row["type"]) == (RGW, "rook-ceph", "Warning")
    assert row["count"] == 12  # series.count beats deprecatedCount 0
    assert row["first_seen"] == ts("2021-08-23T01:15:03.482911Z")  # eventTime
    assert row["last_seen"] == time == ts("2021-08-23T02:40:51.017344Z")  # lastObservedTime
    assert row["node"] == "worknode2"  # reportingInstance of the kubelet


def test_events_k8s_io_deprecated_timestamps_win_over_series():
    item = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "reason": "Unhealthy",
            "metadata": {"name": "e", "namespace": "ns"}, "note": "probe failed",
            "regarding": {"kind": "Pod", "namespace": "ns", "name": "p"},
            "deprecatedFirstTimestamp": "2021-08-23T01:00:00Z",
            "deprecatedLastTimestamp": "2021-08-23T02:00:00Z", "deprecatedCount": 40,
            "deprecatedSource": {"component": "kubelet", "host": "n1"},
            "series": {"count": 3, "lastObservedTime": "2021-08-23T01:30:00Z"}}
    row = shaped([item]).frames["events"].iloc[0]
    assert (row["count"], row["node"], row["message"]) == (40, "n1", "probe failed")
    assert (row["first_seen"], row["last_seen"]) == (ts("2021-08-23T01:00:00Z"),
                                                    ts("2021-08-23T02:00:00Z"))


def test_event_without_last_timestamp_falls_back_to_event_time_then_first():
    base = {"kind": "Event", "metadata": {"name": "e", "namespace": "ns"},
            "involvedObject": {"kind": "Pod", "namespace": "ns", "name": "p"}}
    only_first = {**base, "firstTimestamp": "2021-08-23T10:00:00+08:00"}
    only_event_time = {**base, "eventTime": "2021-08-23T03:00:00.5Z"}
    ev = shaped([only_first, only_event_time]).frames["events"]
    assert ev.index.tolist() == [ts("2021-08-23T02:00:00Z"), ts("2021-08-23T03:00:00.5Z")]
    assert ev["first_seen"].tolist() == ev.index.tolist()
    assert ev["count"].tolist() == [1, 1]


def test_node_event_is_cluster_scoped_and_names_the_node():
    b = read("mixed.json")
    row, time = by(b.frames["events"], reason="NodeNotReady")
    assert (row["kind"], row["object"], row["namespace"], row["node"]) == (
        "Node", "node/gpunode1", "", "gpunode1")
    assert row["count"] == 1  # no count field
    assert time == ts("2021-08-23T02:38:00Z")  # written as 10:38:00+08:00


# -- pods -----------------------------------------------------------------------------------
def test_pod_container_rows():
    b = read("pods.json")  # a PodList whose items carry no kind
    assert (b.lines, b.malformed, b.rows()) == (4, 0, {"objects": 5, "events": 3})
    obj = b.frames["objects"]
    assert set(obj.index) == {COLLECTED}
    rgw, _ = by(obj, object=RGW)  # the init container is not a row
    assert (rgw["kind"], rgw["namespace"], rgw["node"], rgw["app"], rgw["container"]) == (
        "Pod", "rook-ceph", "worknode2", "rook-ceph-rgw", "rgw")
    assert rgw["restarts"] == 65
    assert (rgw["last_termination_reason"], rgw["last_termination_at"]) == (
        "Error", ts("2021-08-23T02:41:07Z"))
    assert (rgw["liveness_timeout_s"], rgw["liveness_period_s"],
            rgw["liveness_failure_threshold"]) == (1, 10, 3)
    assert math.isnan(rgw["readiness_timeout_s"])
    detail = json.loads(rgw["detail"])
    assert detail["probes"]["liveness"]["handler"] == "http-get http://:80/"
    assert detail["probes"]["liveness"]["initialDelaySeconds"] == 10
    assert (detail["image"], detail["phase"], detail["state"], detail["ready"]) == (
        "ceph/ceph:v15.2.4", "Running", "Running", True)


def test_probe_defaults_apply_when_omitted():
    obj = read("pods.json").frames["objects"]
    triton, _ = by(obj, object=TRITON, container="triton")
    # liveness gives only initialDelaySeconds; readiness gives only timeoutSeconds 3
    assert (triton["liveness_timeout_s"], triton["liveness_period_s"],
            triton["liveness_failure_threshold"], triton["readiness_timeout_s"]) == (1, 10, 3, 3)
    assert triton["app"] == "triton-inference-server"  # app.kubernetes.io/name beats app
    detail = json.loads(triton["detail"])
    assert detail["probes"]["liveness"]["handler"] == "http-get http://:http/v2/health/live"
    assert (detail["state"], detail["state_reason"]) == ("Waiting", "CrashLoopBackOff")
    assert detail["resources"]["limits"] == {"memory": "16Gi", "nvidia.com/gpu": "1"}
    assert detail["dnsConfig"]["options"][1] == {"name": "timeout", "value": "5"}
    sidecar, _ = by(obj, object=TRITON, container="metrics-exporter")
    assert json.loads(sidecar["detail"])["probes"]["liveness"]["handler"] == (
        "exec [sh …2 args]")
    assert (sidecar["liveness_timeout_s"], sidecar["restarts"]) == (2, 0)
    coredns, _ = by(obj, container="coredns")
    assert (coredns["liveness_timeout_s"], coredns["liveness_failure_threshold"],
            coredns["readiness_timeout_s"], coredns["app"]) == (5, 5, 1, "kube-dns")


def test_pod_without_probes_has_nan_probe_columns():
    job, _ = by(read("pods.json").frames["objects"], container="embed")
    for col in ("liveness_timeout_s", "liveness_period_s", "liveness_failure_threshold",
                "readiness_timeout_s"):
        assert math.isnan(job[col]), col
    # restartPolicy Never: the OOMKill is in the current state, not lastState
    assert (job["last_termination_reason"], job["last_termination_at"]) == (
        "OOMKilled", ts("2021-08-23T02:19:31Z"))


def test_container_terminations_become_events():
    ev = read("pods.json").frames["events"]
    rgw, time = by(ev, object=RGW)
    assert (rgw["source"], rgw["type"], rgw["kind"], rgw["reason"]) == (
        "kube", "Warning", "Pod", "Error")
    assert (rgw["namespace"], rgw["node"], rgw["count"]) == ("rook-ceph", "worknode2", 1)
    assert rgw["message"] == "container rgw terminated: exit code 143"
    assert rgw["first_seen"] == ts("2021-08-23T02:29:48Z")
    assert rgw["last_seen"] == time == ts("2021-08-23T02:41:07Z")
    triton, _ = by(ev, object=TRITON)
    assert (triton["reason"], triton["node"]) == ("OOMKilled", "gpunode1")
    job, _ = by(ev, object="pod/ml-serving/embed-batch-27162315-9kq7w")
    assert job["message"] == "container embed terminated: exit code 137, signal 9"


def test_completed_termination_is_normal_and_tcp_probe_is_described():
    b = read("mixed.json")
    ev, _ = by(b.frames["events"], object="pod/ml-serving/redis-0")
    assert (ev["type"], ev["reason"]) == ("Normal", "Completed")
    redis, _ = by(b.frames["objects"], kind="Pod")
    probes = json.loads(redis["detail"])["probes"]
    assert probes["liveness"]["handler"] == "tcp-socket :6379"
    assert probes["readiness"]["handler"] == "exec [redis-cli …1 args]"


# -- workloads and nodes --------------------------------------------------------------------
def test_deployments():
    b = read("deployments.json")
    assert (b.lines, b.malformed, b.rows()) == (2, 0, {"objects": 2})
    obj = b.frames["objects"]
    coredns, time = by(obj, object="deployment/kube-system/coredns")
    assert time == COLLECTED
    assert (coredns["kind"], coredns["namespace"], coredns["app"], coredns["container"]) == (
        "Deployment", "kube-system", "kube-dns", "")
    assert (coredns["replicas"], coredns["ready_replicas"]) == (1, 1)
    assert json.loads(coredns["detail"]) == {
        "containers": [{"name": "coredns", "image": "rancher/mirrored-coredns-coredns:1.8.3",
                        "resources": {"limits": {"memory": "170Mi"},
                                      "requests": {"cpu": "100m", "memory": "70Mi"}}}],
        "dnsPolicy": "Default",
    }
    rgw, _ = by(obj, object="deployment/rook-ceph/rook-ceph-rgw-my-store-a")
    assert (rgw["replicas"], rgw["ready_replicas"]) == (1, 0)  # no readyReplicas in status


def test_workload_kinds_in_mixed_list():
    obj = read("mixed.json").frames["objects"]
    triton, _ = by(obj, object="deployment/ml-serving/triton-inference-server")
    assert (triton["replicas"], triton["ready_replicas"]) == (1, 0)  # spec.replicas omitted
    assert json.loads(triton["detail"])["dnsConfig"]["options"][0] == {"name": "ndots",
                                                                       "value": "2"}
    ds, _ = by(obj, object="daemonset/rook-ceph/csi-rbdplugin")
    assert (ds["kind"], ds["app"], ds["replicas"], ds["ready_replicas"]) == (
        "DaemonSet", "csi-rbdplugin", 3, 2)
    sts, _ = by(obj, object="statefulset/ml-serving/redis")
    assert (sts["kind"], sts["replicas"], sts["ready_replicas"]) == ("StatefulSet", 1, 1)


def test_nodes():
    b = read("nodes.json")
    assert (b.lines, b.malformed, b.rows()) == (2, 0, {"objects": 2})
    gpu, time = by(b.frames["objects"], object="node/gpunode1")
    assert time == COLLECTED
    assert (gpu["kind"], gpu["node"], gpu["namespace"], gpu["app"]) == (
        "Node", "gpunode1", "", "")
    assert json.loads(gpu["detail"]) == {
        "capacity": {"cpu": "96", "memory": "1056561540Ki", "nvidia.com/gpu": "8"},
        "allocatable": {"cpu": "95500m", "memory": "1045027204Ki", "nvidia.com/gpu": "8"},
        "conditions": {"NetworkUnavailable": "False", "MemoryPressure": "False",
                       "DiskPressure": "False", "PIDPressure": "False", "Ready": "True"},
        "kubeletVersion": "v1.21.3",
        "kernelVersion": "5.4.0-80-generic",
        "roles": ["gpu", "worker"],
    }
    work, _ = by(b.frames["objects"], object="node/worknode2")
    assert "nvidia.com/gpu" not in json.loads(work["detail"])["capacity"]


# -- dispatch, secrets, accounting ----------------------------------------------------------
def test_mixed_list_dispatch_and_skipped_kinds():
    b = read("mixed.json")
    assert (b.lines, b.malformed) == (8, 0)
    assert b.skipped == {"Secret": 1, "ConfigMap": 1}
    assert sorted(b.frames["objects"]["kind"]) == [
        "DaemonSet", "Deployment", "Node", "Pod", "StatefulSet"]
    assert sorted(b.frames["events"]["reason"]) == ["Completed", "NodeNotReady"]


def test_single_object_document():
    pod = json.loads((DATA / "pods.json").read_text())["items"][0]
    batch = KubeBatch(source="one")
    shape_document({"apiVersion": "v1", "kind": "Pod", **pod}, ctx(), batch)
    assert (batch.lines, batch.rows()) == (1, {"objects": 1, "events": 1})


@pytest.mark.parametrize("needle", [
    TOKEN,
    base64.b64encode(TOKEN.encode()).decode(),
    "UPSTREAM_API_TOKEN",
    "last-applied-configuration",
    "managedFields",
    "s3-credentials",
    "Corefile",
])
def test_nothing_secret_reaches_any_row(needle):
    for name in ("pods.json", "deployments.json", "mixed.json"):
        b = read(name)
        for table, df in b.frames.items():
            for col in df.columns:
                cells = df[col].astype(str)
                assert not cells.str.contains(needle, regex=False).any(), (name, table, col)
    samples = " ".join((DATA / n).read_text() for n in ("pods.json", "deployments.json",
                                                         "mixed.json"))
    assert needle in samples  # the check above would pass vacuously otherwise


def test_malformed_item_is_counted_and_the_rest_kept():
    b = read("bad-item.json")
    assert (b.lines, b.malformed, b.rows()) == (5, 1, {"events": 4})
    (m,) = b.samples
    assert (m.file, m.line, m.field, m.message) == (
        "bad-item.json", 4, "items[4].metadata.name", "missing")


def _pod(**status):
    pod = copy.deepcopy(json.loads((DATA / "pods.json").read_text())["items"][1])  # coredns
    pod["status"]["containerStatuses"][0].update(status)
    return {"kind": "Pod", **pod}  # items of a PodList carry no kind


@pytest.mark.parametrize("item, field", [
    (_pod(restartCount=-1), "items[1].status.containerStatuses[0].restartCount"),
    (_pod(lastState={"terminated": {"finishedAt": "late", "reason": "Error"}}),
     "items[1].status.containerStatuses[0].lastState.terminated.finishedAt"),
    ({"kind": "Event", "metadata": {"name": "e"}, "lastTimestamp": "yesterday-ish",
      "involvedObject": {"kind": "Pod", "name": "p"}}, "items[1].lastTimestamp"),
    ({"kind": "Event", "metadata": {"name": "e"},
      "involvedObject": {"kind": "Pod", "name": "p"}}, "items[1].lastTimestamp"),
    ({"kind": "Event", "metadata": {"name": "e"}, "eventTime": "2021-08-23T00:00:00Z",
      "regarding": {"kind": "Pod"}}, "items[1].regarding.name"),
    ({"metadata": {"name": "no-kind"}}, "items[1].kind"),
    ("not an object", "items[1]"),
])
def test_bad_items_name_their_field(item, field):
    good = json.loads((DATA / "nodes.json").read_text())["items"][0]
    b = shaped([{"kind": "Node", **good}, item])
    assert (b.lines, b.malformed, b.rows()) == (2, 1, {"objects": 1})
    assert (b.samples[0].line, b.samples[0].field) == (1, field)
    assert TOKEN not in b.samples[0].text


def test_keep_limits_samples_not_the_count():
    items = [{"kind": "Pod", "metadata": {}}] * 5
    b = shaped(items, keep=2)
    assert (b.malformed, len(b.samples)) == (5, 2)


def test_broken_json_is_one_malformed_entry():
    b = read("broken.json")
    # one document read, one malformed (lines was 0: issue 10 D5, every read is counted)
    assert (b.lines, b.malformed, b.frames) == (1, 1, {})
    assert b.unaccounted() == 0
    (m,) = b.samples
    assert (m.line, m.field) == (57, "json")
    assert m.message.startswith("Expecting ',' delimiter at line 57 column")
    assert m.text == ""  # never the dump's text: a broken dump may be a Secret


def test_reading_twice_gives_identical_row_ids():
    for name in ("events-rook-ceph.json", "pods.json", "deployments.json", "nodes.json",
                 "mixed.json"):
        first, second = read(name), read(name)
        for table, df in first.frames.items():
            assert df["row_id"].tolist() == second.frames[table]["row_id"].tolist()
            assert df["row_id"].is_unique, (name, table)


def test_shape_items_appends_to_existing_frames():
    events = json.loads((DATA / "events-rook-ceph.json").read_text())["items"]
    batch = KubeBatch(source="live")
    shape_items(events[:2], ctx(), batch)
    shape_items(events[2:], ctx(), batch)
    assert (batch.lines, batch.rows()) == (4, {"events": 4})


def test_collection_time_is_required():
    with pytest.raises(ValueError, match="collected_at"):
        shape_items([], ParseContext(file="f", zone=tz.UTC), KubeBatch(source="f"))


def test_broken_secret_dump_leaks_nothing(tmp_path):
    f = tmp_path / "secrets.json"
    f.write_text('{"kind": "SecretList", "items": [{"data": {"token": "c3VwZXJzZWNyZXQ="')
    b = read_kube(f, ParseContext(str(f), tz.UTC, {"collected_at": pd.Timestamp.now(tz="UTC")}))
    assert b.malformed == 1
    assert "c3VwZXJzZWNyZXQ" not in str(b.samples[0])


def test_bom_and_null_items_are_read(tmp_path):
    f = tmp_path / "empty.json"
    f.write_bytes(b'\xef\xbb\xbf{"apiVersion": "v1", "kind": "List", "items": null}')
    b = read_kube(f, ParseContext(str(f), tz.UTC, {"collected_at": pd.Timestamp.now(tz="UTC")}))
    assert (b.malformed, b.lines, sum(b.skipped.values())) == (0, 0, 0)


def test_exec_probe_arguments_are_not_stored():
    pod = copy.deepcopy(json.loads((DATA / "pods.json").read_text())["items"][0])
    pod["spec"]["containers"][0]["livenessProbe"] = {
        "exec": {"command": ["sh", "-c", "curl -u admin:Pa55word http://localhost/health"]}}
    b = shaped([{**pod, "kind": "Pod"}])
    detail = b.frames["objects"]["detail"].iloc[0]
    assert "Pa55word" not in detail and "exec [sh …2 args]" in detail
