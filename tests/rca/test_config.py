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
])
def test_invalid_config_is_refused_with_the_key(tmp_path, text, match):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load(str(f))


def test_missing_explicit_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load(str(tmp_path / "nope.yaml"))


def test_negative_threshold_is_refused(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("thresholds:\n  failed_requests:\n    gap_s: -5\n")
    with pytest.raises(ConfigError, match="must not be negative"):
        load(str(f))
