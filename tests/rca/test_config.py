"""Configuration: origins are shown, unknown keys and wrong types are refused."""

import pytest

from rca.config import ConfigError, load


def test_defaults_have_origin_default(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RCA_CONFIG", raising=False)
    cfg = load()
    origins = {k: o for k, _, o in cfg.flat()}
    assert origins["context"] == "default" and origins["tz"] == "default"


def test_file_then_flag_origins(monkeypatch, tmp_path):
    monkeypatch.delenv("RCA_CONFIG", raising=False)
    f = tmp_path / "rca.yaml"
    f.write_text("context: dev\nthresholds:\n  failed_requests:\n    gap_s: 300\n")
    cfg = load(str(f), {"tz": "UTC"})
    flat = {k: (v, o) for k, v, o in cfg.flat()}
    assert flat["context"] == ("dev", str(f))
    assert flat["thresholds.failed_requests.gap_s"] == (300.0, str(f))
    assert flat["tz"] == ("UTC", "flag")


def test_env_var_names_the_file(monkeypatch, tmp_path):
    f = tmp_path / "prod.yaml"
    f.write_text("context: prod\n")
    monkeypatch.setenv("RCA_CONFIG", str(f))
    assert load().get("context") == "prod"


@pytest.mark.parametrize("text,match", [
    ("thresholds:\n  failed_requests:\n    gap: 3\n",
     "unknown key 'thresholds.failed_requests.gap'"),
    ("thresholds:\n  failed_requests:\n    gap_s: soon\n",
     "'thresholds.failed_requests.gap_s' must be"),
    ("tz: Mars/Base\n", "unknown time zone"),
    ("- a\n- b\n", "top level must be a mapping"),
    ("sources:\n  prometheus:\n    raw_metrics:\n      up: instance\n",
     "'sources.prometheus.raw_metrics.up' must be a list of strings"),
    ("logs:\n  zones:\n    rgw: [UTC]\n", "'logs.zones.rgw' must be a string"),
])
def test_invalid_config_is_refused_with_the_key(tmp_path, text, match):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load(str(f))


def test_a_users_open_map_adds_to_the_defaults_and_null_drops_one(tmp_path):
    f = tmp_path / "rca.yaml"
    f.write_text("sources:\n  prometheus:\n    raw_metrics:\n"
                 "      kube_pod_container_status_restarts_total: null\n"
                 "      kube_pod_status_phase: [namespace, pod, phase]\n"
                 "logs:\n  jsonl_fields:\n    ts: time\n")
    config = load(str(f))
    # the labels stay a list (they were once a str, each character a label)
    assert config.get("sources.prometheus.raw_metrics") == {
        "kube_pod_status_phase": ["namespace", "pod", "phase"]}
    fields = config.get("logs.jsonl_fields")
    assert fields["ts"] == "time" and fields["station"] == "station"


def test_missing_explicit_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load(str(tmp_path / "nope.yaml"))


def test_negative_threshold_is_refused(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("thresholds:\n  failed_requests:\n    gap_s: -5\n")
    with pytest.raises(ConfigError, match="must not be negative"):
        load(str(f))


def test_rca_config_masks_credentials_and_shows_sources(tmp_path, capsys, monkeypatch):
    from rca.cli import main
    from rca.redact import MASK

    monkeypatch.delenv("RCA_CONFIG", raising=False)
    f = tmp_path / "rca.yaml"
    f.write_text("sources:\n  prometheus:\n    url: https://rca:pa55w0rd@prom.example:9090\n"
                 "    bearer_token_file: /var/run/secrets/token\n    headers:\n"
                 "      Authorization: Basic c2VjcmV0\n      X-Scope-OrgID: factory-a\n"
                 "      X-Api-Key: env:PROM_KEY\n")
    assert main(["config", "--config", str(f), "-o", "json"]) == 0
    rows = {r["key"]: r for r in __import__("json").loads(capsys.readouterr().out)}
    assert rows["sources.prometheus.url"]["value"] == f"https://{MASK}@prom.example:9090"
    assert rows["sources.prometheus.url"]["origin"] == str(f)
    assert rows["sources.prometheus.headers"]["value"] == {
        "Authorization": MASK, "X-Scope-OrgID": "factory-a", "X-Api-Key": MASK}
    assert rows["sources.prometheus.bearer_token_file"]["value"] == "/var/run/secrets/token"
    assert rows["sources.loki.url"]["origin"] == "default"


def test_header_values_from_env_and_file_are_resolved_at_use(tmp_path, monkeypatch):
    from collectors import http_auth

    monkeypatch.setenv("PROM_KEY", "k-123456")
    secret = tmp_path / "tenant"
    secret.write_text("tenant-b\n")
    got = http_auth.headers({"X-Api-Key": "env:PROM_KEY", "X-Scope-OrgID": f"file:{secret}"},
                            token_env="PROM_KEY")
    assert got == {"X-Api-Key": "k-123456", "X-Scope-OrgID": "tenant-b",
                   "Authorization": "Bearer k-123456"}
    monkeypatch.delenv("PROM_KEY")
    with pytest.raises(http_auth.AuthError, match="PROM_KEY is not set"):
        http_auth.headers({"X-Api-Key": "env:PROM_KEY"})
    assert http_auth.redact("bad k-123456 at https://u:pw@h/", got) == \
        "bad *** at https://[REDACTED]@h/"
