"""The live Kubernetes collector: the real ``kubernetes`` client and Debian's kubectl against
a stand-in API server on 127.0.0.1 (HTTPS), with paging, 401, 403, 404 and 410."""

import base64
import json
import logging
import os
import socket
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from dateutil import tz

from collectors.base import ParseContext
from collectors.kube import KubeBatch, read_kube
from collectors.kube_api import (
    RESOURCES,
    KubeLive,
    connect,
    events_reach_gap,
    live_sources,
    rbac_rules,
)
from rca import cli
from rca.config import load
from rca.live import Flags, LiveError
from tests.collectors.kube_api_server import (
    FIXTURES,
    TOKEN,
    debian_kubectl,
    kubeconfig_text,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "kube"
COLLECTED = pd.Timestamp("2021-08-23T02:45:00Z")
SINCE, UNTIL = pd.Timestamp("2021-08-22T02:45:00Z"), pd.Timestamp("2021-08-23T02:45:00Z")
def ctx():
    return ParseContext("kube", tz.gettz("Asia/Shanghai"), {"collected_at": COLLECTED})


def live(kubeconfig, **kw):
    source = KubeLive(connect(str(kubeconfig)), **kw)
    batches = list(source.fetch(SINCE, UNTIL, ctx()))
    return source, batches


def merged(batches) -> dict[str, pd.DataFrame]:
    """Rows per table as the store would keep them: one per row id, in row-id order."""
    frames: dict[str, list] = {}
    for b in batches:
        for table, df in b.frames.items():
            frames.setdefault(table, []).append(df)
    out = {}
    for table, dfs in frames.items():
        df = pd.concat(dfs)
        df = df[~df["row_id"].duplicated(keep="last")]
        out[table] = df.reset_index().sort_values("row_id").reset_index(drop=True)
    return out


def from_files(paths) -> dict[str, pd.DataFrame]:
    return merged([read_kube(p, ctx()) for p in paths])


def assert_same_rows(got, want):
    assert set(got) == set(want) == {"events", "objects"}
    for table in want:
        assert len(want[table]) > 3
        pd.testing.assert_frame_equal(got[table], want[table], check_like=True)


# -- rows --------------------------------------------------------------------------------
def test_live_rows_equal_the_file_rows_of_the_same_objects(kubeconfig, api):
    source, batches = live(kubeconfig, limit=2)
    assert sum(b.malformed for b in batches) == 0
    assert all(isinstance(b, KubeBatch) for b in batches)  # skipped kinds are counted
    want = from_files(DATA / name for _, _, name in FIXTURES)
    assert_same_rows(merged(batches), want)
    # it paged: more than one request per resource, each page following ``continue``
    pages = [r for r in api.state.requests if "continue=" in r]
    assert len(pages) == 3 and source.requests == len(RESOURCES) + 3


def test_kubectl_dumps_of_the_stand_in_give_the_live_rows(kubeconfig, api, tmp_path):
    """Debian's kubectl lists the stand-in (discovery, paging, both Event APIs) and its
    ``-o json`` output, read as files, gives exactly the live collector's rows."""
    kubectl = debian_kubectl()
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "KUBECONFIG": str(kubeconfig)}
    dumps = []
    for what in ("events", "events.v1.events.k8s.io", "pods", "nodes",
                 "deployments,replicasets,daemonsets,statefulsets",
                 "services,endpoints", "endpointslices"):
        out = subprocess.run([kubectl, "get", what, "--all-namespaces", "-o", "json",
                              "--chunk-size=2", "--request-timeout=20s"],
                             capture_output=True, text=True, env=env, timeout=60)
        assert out.returncode == 0, f"kubectl get {what}: {out.stderr}"
        dumps.append(tmp_path / f"{len(dumps)}.json")
        dumps[-1].write_text(out.stdout)
        assert json.loads(out.stdout)["items"], what
    _, batches = live(kubeconfig, limit=3)
    assert_same_rows(merged(batches), from_files(dumps))


def test_events_v1_api_alone_gives_the_core_rows(kubeconfig, api):
    """A cluster whose core Events were all read through events.k8s.io/v1 still gives the
    rows the core API does: the shapes differ, the facts do not."""
    core = api.state.objects.pop(("v1", "events"))
    api.state.objects[("v1", "events")] = []
    _, batches = live(kubeconfig)
    got = merged(batches)["events"]
    api.state.objects[("v1", "events")] = core
    _, batches = live(kubeconfig)
    want = merged(batches)["events"]
    pd.testing.assert_frame_equal(got, want, check_like=True)


def test_expired_continue_token_relists_without_duplicates(kubeconfig, api):
    api.state.expire_once.add("v1/pods")
    _, batches = live(kubeconfig, limit=1)
    pods = next(b for b in batches if b.source == "kube: v1 pods")
    assert pods.gaps == [] and pods.lines == 4  # each pod shaped once
    fresh = [r for r in api.state.requests if r.startswith("/api/v1/pods") and "continue" not in r]
    assert len(fresh) == 2  # the first list and the one after 410


def test_forbidden_namespace_is_a_gap_and_the_rest_is_collected(kubeconfig, api):
    api.state.forbidden.add("ml-serving")
    _, batches = live(kubeconfig, namespaces=["rook-ceph", "ml-serving", "kube-system"])
    gaps = [g for b in batches for g in b.gaps if g.what.startswith("namespace")]
    # one gap for the namespace, naming every resource it refused
    assert [g.what for g in gaps] == ["namespace ml-serving"]
    assert gaps[0].reason == ("403 Forbidden: not allowed to list events, pods, deployments, "
                              "replicasets, daemonsets, statefulsets, services, endpoints, "
                              "endpointslices")
    rows = merged(batches)["objects"]
    assert not (rows["namespace"] == "ml-serving").any()
    assert {"rook-ceph", "kube-system"} <= set(rows["namespace"])
    assert "node/gpunode1" in set(rows["object"])  # nodes are cluster-scoped: still read


def test_forbidden_cluster_wide_list_says_how_to_narrow_it(kubeconfig, api):
    api.state.forbidden.add("")  # the stand-in's cluster-wide lists
    _, batches = live(kubeconfig)
    gaps = {g.what: g.reason for b in batches for g in b.gaps}
    assert "--namespace" in gaps["v1 pods"] and "403" in gaps["v1 pods"]
    assert "--namespace" not in gaps["v1 nodes"]  # cluster-scoped: nothing to narrow


def test_group_not_served_is_a_gap(kubeconfig, api):
    del api.state.objects[("discovery.k8s.io/v1", "endpointslices")]
    _, batches = live(kubeconfig)
    gaps = [g for b in batches for g in b.gaps]
    assert any(g.what == "discovery.k8s.io/v1 endpointslices" and "404" in g.reason
               for g in gaps)
    assert len(merged(batches)["objects"]) > 5


# -- errors ------------------------------------------------------------------------------
def test_refused_credentials_are_one_clear_line(kubeconfig, api):
    api.state.token = "rotated"
    with pytest.raises(LiveError) as err:
        live(kubeconfig)
    message = str(err.value)
    assert "401 Unauthorized" in message and api.url in message
    assert "\n" not in message and TOKEN not in message


def test_no_cluster_is_one_clear_line(tmp_path, kube_cert):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path = tmp_path / "kubeconfig"
    path.write_text(kubeconfig_text(f"https://127.0.0.1:{port}", TOKEN, kube_cert[0]))
    with pytest.raises(LiveError, match=r"^kube: cannot reach the API server at https://127"):
        live(path)
    with pytest.raises(LiveError, match="no kubeconfig at /nonexistent"):
        connect("/nonexistent/kubeconfig")


def test_unknown_context_is_one_clear_line(kubeconfig):
    with pytest.raises(LiveError, match="cannot use the kubeconfig") as err:
        connect(str(kubeconfig), context="prod")
    assert "\n" not in str(err.value)


# -- events' reach -----------------------------------------------------------------------
@pytest.mark.parametrize("oldest_after_since, gap", [
    (pd.Timedelta(minutes=4), False),  # within the 5-minute slack: events reach back
    (pd.Timedelta(minutes=6), True),  # beyond it: the window's start has no events
    (None, True),  # no events at all: nothing of the window is covered
])
def test_events_reach_gap_edges(oldest_after_since, gap):
    oldest = None if oldest_after_since is None else SINCE + oldest_after_since
    found = events_reach_gap(oldest, SINCE, UNTIL, tz.gettz("UTC"))
    assert (found is not None) == gap
    if found:
        assert found.since == SINCE and found.until == (oldest or UNTIL)
        assert "rca watch" in found.reason


def test_collect_says_how_far_back_events_reach(kubeconfig):
    _, batches = live(kubeconfig)
    reach = [g for b in batches for g in b.gaps if g.what.startswith("events before")]
    oldest = read_kube(DATA / "events-rook-ceph.json", ctx()).frames["events"]["last_seen"].min()
    assert oldest > SINCE + pd.Timedelta(hours=1)  # the fixture's events are all recent
    assert len(reach) == 1 and reach[0].until == oldest


# -- the factory and the command ---------------------------------------------------------
def test_factory_builds_nothing_unless_configured_or_flagged(tmp_path):
    config = load(None)
    assert live_sources(config, Flags()) == []
    assert len(live_sources(config, Flags({"context": "prod"}))) == 1
    rc = tmp_path / "rca.yaml"
    rc.write_text("sources:\n  kube:\n    enabled: true\n    namespaces: [ml]\n")
    (source,) = live_sources(load(str(rc)), Flags())
    assert source.namespaces == ["ml"]
    (source,) = live_sources(load(str(rc)), Flags({"namespace": ["a", "b"]}))
    assert source.namespaces == ["a", "b"]  # flags override


def test_rca_collect_from_rca_yaml_with_no_flags_keeps_secrets_out(
        kubeconfig, kube_cert, api, tmp_path, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    # a client key in the kubeconfig as well as the token: neither may surface anywhere
    config = json.loads(kubeconfig.read_text())
    key_b64 = base64.b64encode(Path(kube_cert[1]).read_bytes()).decode()
    config["users"][0]["user"].update(
        {"client-certificate-data": base64.b64encode(Path(kube_cert[0]).read_bytes()).decode(),
         "client-key-data": key_b64})
    kubeconfig.write_text(json.dumps(config))
    key_body = Path(kube_cert[1]).read_text().splitlines()[1]  # a line of the PEM key
    store = tmp_path / "store"
    rc = tmp_path / "rca.yaml"
    rc.write_text(f"store: {store}\nsources:\n  kube:\n    enabled: true\n"
                  f"    kubeconfig: {kubeconfig}\n")
    code = cli.main(["collect", "--config", str(rc), "--since", SINCE.isoformat(),
                     "--until", UNTIL.isoformat(), "-o", "json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    summary = json.loads(out.out)
    assert summary["rows"]["objects"] > 10 and summary["rows"]["events"] >= 4
    assert any(g["what"].startswith("events before") for g in summary["gaps"])
    (record,) = (store / "collections").glob("*.json")
    assert any(g["source"] == "kube" for g in json.loads(record.read_text())["gaps"])
    # the bearer token and the client key are nowhere: output, logs, any file of the store
    for secret in (TOKEN, key_b64[:40], key_body):
        assert secret not in out.out + out.err + caplog.text
        for path in store.rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), path
    # a second run adds nothing
    window = ["--config", str(rc), "--since", SINCE.isoformat(), "--until", UNTIL.isoformat()]
    assert cli.main(["collect", *window, "-o", "json"]) == 0
    assert sum(json.loads(capsys.readouterr().out)["new_rows"].values()) == 0
    # the report names what could not be collected
    assert cli.main(["report", *window, "-o", str(tmp_path / "reports")]) == 0
    (page,) = (tmp_path / "reports").glob("*.html")
    html = page.read_text()
    assert "Not collected:" in html and "kube: events before 2021-08-23T10:40:51+08:00" in html
    assert TOKEN not in html


def test_rca_collect_exits_1_when_the_cluster_refuses(kubeconfig, api, tmp_path, capsys):
    api.state.token = "rotated"
    code = cli.main(["collect", "--store", str(tmp_path / "s"), "--kubeconfig", str(kubeconfig),
                     "--since", "1h"])
    err = capsys.readouterr().err
    assert code == 1
    assert "rca: error: kube: the API server at" in err and "401" in err


def test_rbac_rules_follow_the_resource_list():
    rules = rbac_rules()
    assert rules[("", "events")] == {"list", "watch"}
    assert rules[("discovery.k8s.io", "endpointslices")] == {"list"}
    assert len(rules) == len({(r.group, r.plural) for r in RESOURCES})


def test_objects_per_second_listed(kubeconfig, api):
    """Not a gate: prints the listing rate the report quotes (see ARCHITECTURE.md)."""
    import time

    pod = json.loads((DATA / "pods.json").read_text())["items"][0]
    clones = []
    for i in range(2000):
        clone = json.loads(json.dumps(pod))
        clone["metadata"].update(name=f"p-{i}", uid=f"uid-{i}")
        clones.append(clone)
    api.add("v1", "pods", clones)
    t0 = time.perf_counter()
    _, batches = live(kubeconfig)
    seconds = time.perf_counter() - t0
    pods = next(b for b in batches if b.source == "kube: v1 pods")
    assert pods.lines == 2004
    print(f"listed and shaped {pods.lines} pods in {seconds:.2f} s "
          f"({pods.lines / seconds:.0f} objects/s)")


def test_in_cluster_service_account(api, kube_cert, tmp_path, monkeypatch):
    """Inside a pod: the API server from the service env, the token and CA from the
    mounted service account (here written to tmp files in the same layout)."""
    from kubernetes.config import incluster_config

    token = tmp_path / "token"
    token.write_text(TOKEN)
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(token))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", kube_cert[0])
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", api.url.rsplit(":", 1)[1])
    source = KubeLive(connect(in_cluster=True))
    rows = merged(source.fetch(SINCE, UNTIL, ctx()))
    assert len(rows["objects"]) > 10
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST")
    with pytest.raises(LiveError, match="^kube: cannot use the in-cluster service account"):
        connect(in_cluster=True)
