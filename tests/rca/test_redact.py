"""Credentials never reach the store, the terminal, the JSON output or the report.

Two layers: a table of strings (what is masked, and what must survive untouched), then a
planted run: distinct secrets in every input kind — each log format (good lines and
malformed ones), metric labels, kube events, pods (probe paths, headers, env,
annotations), deployments, the config file — collected, analysed and reported through the
real command line, and every byte written or printed searched for each of them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from rca.cli import main
from rca.redact import (
    HINT,
    MASK,
    redact_batch,
    redact_frame,
    redact_obj,
    redact_text,
    sensitive_name,
)

# -- the rules -----------------------------------------------------------------------------
MASKED = [  # (text, the secret in it)
    ("GET /healthz?token=tk-111 HTTP/1.1", "tk-111"),
    ("GET /x?a=1&access_token=tk-112&b=2", "tk-112"),
    ("https://acct.blob.core.windows.net/c?sv=2020&sig=AbC%2Bd113&se=x", "AbC%2Bd113"),
    ("/o?X-Amz-Credential=AKID114%2F2021&X-Amz-Signature=f00d114", "f00d114"),
    ("http://admin:pw-115@prometheus:9090/api", "pw-115"),
    ("https://ghp-user-116@github.example/org/repo.git", "ghp-user-116"),
    ("Authorization: Bearer abc.def.117", "abc.def.117"),
    ("authorization: Basic dXNlcjpwYXNz118", "dXNlcjpwYXNz118"),
    ("X-Api-Key: key-119", "key-119"),
    ('{"password":"pw-120","signal":"coredns"}', "pw-120"),
    ('{\\"client_secret\\":\\"cs-121\\"}', "cs-121"),  # JSON inside a JSON string
    ("--db-password=pw-122 --verbose", "pw-122"),
    ('password: "pw 123"', "pw 123"),
    ("login with eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjQifQ.c2lnMTI0 failed", "c2lnMTI0"),
    ("key id AKIAIOSFODNN7EXAM125 used", "AKIAIOSFODNN7EXAM125"),
    ("ghp_0123456789abcdefABCDEF0123456789a126", "ghp_0123456789abcdefABCDEF0123456789a126"),
    ("cookie: sess127", "sess127"),
    ("apiKey=ak-128", "ak-128"),
]

KEPT = [  # no credential: must come out exactly as it went in
    "Liveness probe failed: Get http://10.42.2.44:80/: net/http: request canceled "
    "(Client.Timeout exceeded while awaiting headers)",
    "signal=coredns_request_p99_seconds design=a",  # 'sig' only as a whole word
    '{"key":"context","value":"dev"}',  # a bare "key" field is a config row, not a key
    "POST /waishi/predict?version=3 HTTP/1.1",
    "mail me at ops@example.com",
    "10.244.1.17:8080",
    "sources.prometheus.bearer_token_file",
]


@pytest.mark.parametrize("text,secret", MASKED, ids=[t for t, _ in MASKED])
def test_credentials_are_masked(text, secret):
    out = redact_text(text)
    assert secret not in out and MASK in out
    assert redact_text(out) == out  # idempotent: a second pass changes nothing


@pytest.mark.parametrize("text", KEPT)
def test_text_without_credentials_is_untouched(text):
    assert redact_text(text) == text


def test_the_vectorised_hint_covers_every_masked_text():
    # the frame path only redacts rows the hint (run by Arrow) selects
    df = pd.DataFrame({"message": [t for t, _ in MASKED] + KEPT},
                      index=pd.DatetimeIndex(["2021-08-23"] * (len(MASKED) + len(KEPT)),
                                             tz="UTC"))  # a repeated time, as logs have
    df["message"] = df["message"].astype("str")
    redact_frame(df)
    for (text, secret), got in zip(MASKED, df["message"], strict=False):
        assert secret not in got, (text, HINT)
    assert df["message"].tolist()[len(MASKED):] == KEPT


def test_names_are_judged_word_by_word():
    assert sensitive_name("X-Api-Key") and sensitive_name("clientSecret")
    assert sensitive_name("sig", bare_weak=True) and not sensitive_name("sig")
    assert not sensitive_name("signal") and not sensitive_name("monkey")
    assert not sensitive_name("bearer_token_file")  # names the secret, does not hold it
    headers = {"X-Api-Key": "k-1", "Accept": "json"}
    assert redact_obj(headers) == {"X-Api-Key": MASK, "Accept": "json"}


# -- the planted run -----------------------------------------------------------------------
def _secrets() -> dict[str, str]:
    """Distinct, unmistakable secrets; the name says where each was planted."""
    names = [
        "ingress_query", "ingress_malformed_auth", "combined_query", "combined_malformed",
        "jsonl_upstream_userinfo", "jsonl_upstream_sig", "jsonl_request_id",
        "jsonl_malformed_password", "coredns_malformed", "rgw_broken_pipe", "rgw_malformed",
        "metric_label_url", "metric_label_auth", "metric_malformed", "event_pull_token",
        "event_bearer", "event_api_key", "probe_liveness_path", "probe_readiness_path",
        "probe_header", "pod_env", "pod_annotation", "deploy_env", "deploy_probe_path",
        "config_url_password", "config_header_key", "config_header_bearer",
    ]
    return {n: f"Zq{i:02d}{n.replace('_', '')[:10]}Xv7" for i, n in enumerate(names)}


def _plant(root: Path, s: dict[str, str]) -> dict[str, list[Path]]:
    logs = root / "logs"
    logs.mkdir()
    ing = ('10.20.1.{i} - - [23/Aug/2021:11:03:{sec:02d} +0800] "POST {path} HTTP/1.1" {st} '
           '512 "-" "python-requests/2.25.1" 6291754 {lat} [inference-neishi-8080] [] '
           '10.244.1.17:8080 512 {lat} {st} 6513270e269e0d37f2a74de452e6b438\n')
    (logs / "ingress.log").write_text(
        ing.format(i=1, sec=1, path=f"/predict?access_token={s['ingress_query']}", st=200,
                   lat="0.398")
        + ing.format(i=2, sec=2, path="/predict", st="2OO", lat="0.4").replace(
            '"-" "python', f'"-" "Authorization: Bearer {s["ingress_malformed_auth"]} python'))
    comb = '10.20.1.{i} - - [23/Aug/2021:03:03:{sec:02d} +0000] "{req}" {st} 512 "-" "ua" 0.4\n'
    (logs / "combined.log").write_text(
        comb.format(i=3, sec=3, req=f"GET /neishi/x?password={s['combined_query']} HTTP/1.1",
                    st=200)
        + comb.format(i=4, sec=4, req=f"GET /a?api_key={s['combined_malformed']} HTTP/1.1",
                      st="2OO"))
    rows = [{"ts": f"2021-08-23T03:03:{10 + i:02d}Z", "station": f"st-{i % 3}",
             "service": f"svc-{i % 2}", "latency_ms": 5000, "status": "timeout",
             "upstream": f"http://ml:{s['jsonl_upstream_userinfo']}@10.0.0.9:80/",
             "request_id": f"r{i} session={s['jsonl_request_id']}"} for i in range(8)]
    rows.append({"ts": "2021-08-23T03:03:30Z", "service": "svc-0", "latency_ms": 10,
                 "status": 200, "upstream": f"http://10.0.0.9/p?sig={s['jsonl_upstream_sig']}"})
    (logs / "requests.jsonl").write_text(
        "\n".join(json.dumps(r) for r in rows)
        + f'\n{{"ts": "2021-08-23T03:03:40Z", "password": "{s["jsonl_malformed_password"]}", '
        '"status": "maybe"}\n')
    (logs / "coredns.log").write_text(
        '2021-08-23T03:03:01.1Z [INFO] 10.244.1.17:41234 - 5113 "A IN neishi.svc. udp 50 '
        'false 512" NOERROR qr,aa,rd 106 0.000121s\n'
        f'[INFO] 10.244.1.17:41234 - 5114 "A IN x.svc. udp 50 false 512" NOERROR qr,aa,rd '
        f'106 0.00012s https://x.svc/?token={s["coredns_malformed"]}\n')  # no time: malformed
    (logs / "rgw.log").write_text(
        "debug 2021-08-23 11:03:05.000 7f4880b98700  1 ====== req done req=0x55aa op "
        "status=0 http_status=200 latency=1.076s ======\n"
        "debug 2021-08-23 11:03:06.000 7f4880b98700  0 ERROR: client_io->complete_request() "
        f"returned Broken pipe GET /b/o?X-Amz-Signature={s['rgw_broken_pipe']}\n"
        "debug 2021-08-32 11:03:07.000 7f4880b98700  1 ====== req done req=0x55ab op "
        f"status=0 http_status=200 latency=1.0s token={s['rgw_malformed']} ======\n")
    metrics = root / "probe.om"
    metrics.write_text(
        "# TYPE probe_duration_seconds gauge\n"
        f'probe_duration_seconds{{instance="10.0.0.1",url="https://u:{s["metric_label_url"]}'
        f'@10.0.0.1/"}} 0.2 1629687780\n'
        f'probe_duration_seconds{{instance="10.0.0.2",authorization="Bearer '
        f'{s["metric_label_auth"]}"}} 0.3 1629687780\n'
        f'probe_duration_seconds{{instance="10.0.0.3",url="/m?secret={s["metric_malformed"]}"}} '
        "not-a-number 1629687780\n"
        "# EOF\n")
    kube = root / "kube.json"
    kube.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        _event("pull", "Failed", f"Failed to pull image: GET https://reg.local/v2/token?"
               f"scope=x&token={s['event_pull_token']}: unauthorized"),
        _event("probe", "Unhealthy", "Liveness probe failed: upstream said Authorization: "
               f"Bearer {s['event_bearer']}"),
        _event("hook", "FailedPostStartHook", f"curl -H 'X-Api-Key: {s['event_api_key']}' "
               "exited 22"),
        _pod(s), _deployment(s),
    ]}))
    config = root / "rca.yaml"
    config.write_text(
        "context: planted\n"
        "logs:\n  show_malformed: 10\n"
        "sources:\n  prometheus:\n"
        f"    url: http://admin:{s['config_url_password']}@prometheus:9090\n"
        f"    headers:\n      X-Api-Key: {s['config_header_key']}\n"
        f"      Authorization: Bearer {s['config_header_bearer']}\n")
    return {"logs": [logs / "*"], "metrics": [metrics], "kube": [kube], "config": [config]}


def _event(name: str, reason: str, message: str) -> dict:
    return {"kind": "Event", "apiVersion": "v1", "type": "Warning", "reason": reason,
            "message": message, "count": 3,
            "metadata": {"name": f"web-0.{name}", "namespace": "ml"},
            "involvedObject": {"kind": "Pod", "name": "web-0", "namespace": "ml"},
            "source": {"component": "kubelet", "host": "worknode1"},
            "firstTimestamp": "2021-08-23T03:00:00Z", "lastTimestamp": "2021-08-23T03:03:00Z"}


def _container(s: dict[str, str], env_key: str, probe_path: str) -> dict:
    return {"name": "web", "image": "reg.local/web:1.0",
            "env": [{"name": "DB_PASSWORD", "value": s[env_key]}],
            "livenessProbe": {"httpGet": {"path": probe_path, "port": 8080,
                                          "httpHeaders": [{"name": "Authorization",
                                                           "value": s["probe_header"]}]},
                              "timeoutSeconds": 1}}


def _pod(s: dict[str, str]) -> dict:
    c = _container(s, "pod_env", f"/healthz?token={s['probe_liveness_path']}")
    c["readinessProbe"] = {"httpGet": {"path": f"/ready?api_key={s['probe_readiness_path']}",
                                       "port": 8080}}
    return {"kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": "web-0", "namespace": "ml", "labels": {"app": "web"},
                         "annotations": {"secret": s["pod_annotation"]}},
            "spec": {"nodeName": "worknode1", "containers": [c]},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": "web", "restartCount": 2, "ready": True, "state": {"running": {}}}]}}


def _deployment(s: dict[str, str]) -> dict:
    c = _container(s, "deploy_env", f"/live?signature={s['deploy_probe_path']}")
    return {"kind": "Deployment", "apiVersion": "apps/v1",
            "metadata": {"name": "web", "namespace": "ml"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"spec": {"containers": [c]}}},
            "status": {"readyReplicas": 1}}


def _run(argv: list[str], capsys) -> tuple[int, str]:
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out + out.err


def _store_text(store: Path) -> str:
    """Every file's raw bytes, plus every Parquet cell decoded (compression could hide a
    string from a byte search)."""
    parts = []
    for path in sorted(p for p in store.rglob("*") if p.is_file()):
        parts.append(path.read_bytes().decode("utf-8", "replace"))
        if path.suffix == ".parquet":
            parts.append(pq.read_table(path).to_pandas().to_csv())
    return "\n".join(parts)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RCA_CONFIG", raising=False)


def test_planted_secrets_are_found_nowhere(tmp_path, capsys):
    secrets = _secrets()
    (tmp_path / "in").mkdir()
    inputs = _plant(tmp_path / "in", secrets)
    planted = "\n".join(p.read_text() for p in (tmp_path / "in").rglob("*") if p.is_file())
    assert len(secrets) >= 25 and all(v in planted for v in secrets.values())

    common = ["--store", "store", "--since", "2021-08-23T00:00:00Z",
              "--until", "2021-08-24T00:00:00Z", "--tz", "UTC",
              "--config", str(inputs["config"][0])]
    seen: dict[str, str] = {}
    code, seen["collect (terminal)"] = _run(
        ["collect", *common, "--logs", str(inputs["logs"][0]),
         "--metrics-file", str(inputs["metrics"][0]), "--kube", str(inputs["kube"][0])], capsys)
    assert code == 0, seen["collect (terminal)"]
    code, seen["analyze -o json"] = _run(["analyze", *common, "-o", "json"], capsys)
    assert code == 0
    code, seen["analyze (terminal)"] = _run(["analyze", *common], capsys)
    assert code == 0
    code, seen["report (terminal)"] = _run(["report", *common, "-o", "reports"], capsys)
    assert code == 0
    seen["report (HTML)"] = "\n".join(p.read_text() for p in Path("reports").glob("*.html"))
    code, seen["config (terminal)"] = _run(["config", *common], capsys)
    code, seen["config -o json"] = _run(["config", *common, "-o", "json"], capsys)
    seen["store"] = _store_text(Path("store"))

    found = {name: [where for where, text in seen.items() if value in text]
             for name, value in secrets.items()}
    assert {n: w for n, w in found.items() if w} == {}

    # not vacuous: the rows, samples and facts around the secrets are all there
    store = seen["store"]
    assert "Failed to pull image" in store and "/healthz?token=[REDACTED]" in store
    assert "Broken pipe" in store and "http://[REDACTED]@10.0.0.9:80/" in store
    assert "probe_duration_seconds" in store and "requests.jsonl:" in store
    assert store.count(MASK) >= 10 and seen["report (HTML)"].count("incident") > 0
    assert "malformed" in seen["collect (terminal)"] and MASK in seen["collect (terminal)"]
    assert "http://admin:[REDACTED]@prometheus:9090" not in seen["config -o json"]
    assert "[REDACTED]@prometheus:9090" in seen["config -o json"]


def test_a_batch_is_redacted_in_frames_samples_and_gaps():
    from collectors.base import Batch, Malformed
    from rca.live import Gap
    from rca.record import frame

    batch = Batch(source="loki")
    batch.frames["events"] = frame("events", [{
        "time": pd.Timestamp("2021-08-23T03:00Z"), "row_id": "e1",
        "message": "GET /api?token=tk-201 failed"}])
    batch.add_malformed(Malformed("loki", 3, "line", "bad", "x?password=pw-202"), keep=3)
    batch.gaps.append(Gap("prometheus", "signal x", "GET http://u:pw-203@prom:9090/ 401"))
    redact_batch(batch)
    shown = " ".join([*batch.frames["events"]["message"], *map(str, batch.samples),
                      *(g.reason for g in batch.gaps)])
    assert not any(s in shown for s in ("tk-201", "pw-202", "pw-203"))
    assert shown.count(MASK) == 3 and batch.frames["events"]["row_id"].tolist() == ["e1"]


@pytest.mark.parametrize("pieces", [1, 3], ids=["one-frame", "concatenated"])
@pytest.mark.parametrize("distinct", [3, 5000], ids=["few-values", "all-distinct"])
def test_a_long_column_is_redacted_whether_its_values_repeat_or_not(distinct, pieces):
    """Few distinct values are matched once per value (a dictionary); unique ones row by
    row: either way the one secret among 5,000 rows is masked and nothing else changes.
    Also in a concatenation of frames (how ``collect`` writes blocks: its columns are
    Arrow arrays in several chunks)."""
    n = 5000
    values = [f"svc-{i % distinct}" for i in range(n)]
    values[4321] = "svc?token=s3cr3tvalue"
    df = pd.DataFrame({"service": pd.array(values, dtype="str")},
                      index=pd.date_range("2021-08-23", periods=n, freq="s", tz="UTC"))
    cuts = [round(n * k / pieces) for k in range(pieces + 1)]
    df = pd.concat([df.iloc[a:b].copy() for a, b in zip(cuts, cuts[1:], strict=False)])
    redact_frame(df)
    assert "s3cr3tvalue" not in df["service"].iloc[4321]
    assert MASK in df["service"].iloc[4321]
    kept = df["service"].drop(df.index[4321]).tolist()
    assert kept == [v for i, v in enumerate(values) if i != 4321]
