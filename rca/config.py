"""Configuration: loaded and validated once at start-up, every value with its origin.

Why origins: in seed 004 a batch job silently ran against the ``dev`` server and made
online APIs time out. ``rca config`` therefore prints each value next to where it came
from (default, file, environment, flag), and the active ``context`` is shown on every
run, so a wrong environment is impossible to miss.

Every rule threshold lives here, under ``thresholds.<rule>``, each with the reason for its
default in the docstring of the rule that reads it.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["DEFAULTS", "Config", "ConfigError", "load"]


class ConfigError(ValueError):
    """The configuration file or an override is invalid; the message names the key."""


DEFAULTS: dict[str, Any] = {
    # Which cluster / environment this configuration is for. Printed on every run.
    "context": "default",
    "tz": "Asia/Shanghai",
    "store": "./rca-data",
    "logs": {
        # JSON-lines field names: record field -> name in the user's logs.
        "jsonl_fields": {
            "ts": "ts",
            "station": "station",
            "service": "service",
            "latency_ms": "latency_ms",
            "status": "status",
            "request_id": "request_id",
            "side": "side",
            "bytes": "bytes",
            "upstream": "upstream",
        },
        # How many malformed lines to show per file (all are counted).
        "show_malformed": 3,
        # Zone of zone-less times in container logs (RGW before Pacific, pod logs):
        # containers log in UTC unless their image sets TZ. ``zones`` overrides it per
        # file: glob (matched against the path) -> zone name.
        "zone": "UTC",
        "zones": {},
    },
    "metrics": {
        # When a metrics file without timestamps was scraped (ISO time); empty: samples
        # without a timestamp are refused rather than placed at a guessed time.
        "time": "",
    },
    # Every rule's thresholds, defaults from the rules themselves (see _rule_defaults).
    "thresholds": {},
    "report": {"max_evidence_rows": 20},
    # `rca daily`: an incoming webhook (Slack, Mattermost, Teams) told of each day's
    # result (a credential: shown redacted), and where the reports folder is published,
    # so the message links to the page instead of a path on the machine that ran it.
    "daily": {"notify_webhook": "", "report_url": ""},
    # A collection appends one part per table and day; a day holding more is merged
    # (the reason for the default: rca/store/compaction.py).
    "compact": {"max_parts_per_day": 16},
    # Live sources (rca/live.py): `rca collect` with no source flags reads every source
    # configured here. Each live collector owns its own sub-section; secrets are given as
    # files or environment variable names, never as values.
    "sources": {
        "kube": {"enabled": False, "kubeconfig": "", "context": "", "in_cluster": False,
                 "namespaces": [],
                 # seconds to wait for an answer, and retries (backoff with jitter) of a
                 # request that got none, before the cluster is a gap of the collection
                 "timeout_s": 120.0, "retries": 2,
                 # items per list request (kubectl's page size)
                 "page_limit": 500,
                 # `rca watch`: consecutive failed reconnects before it exits (its pod then
                 # restarts, visibly), the longest wait between two of them, and how long
                 # a change may wait before it is written (collectors/kube_watch.py)
                 "watch": {"max_failures": 8, "backoff_cap_s": 60.0, "flush_after_s": 10.0}},
        "prometheus": {
            "url": "", "bearer_token_file": "", "bearer_token_env": "", "ca_file": "",
            "insecure": False,
            # extra request headers, e.g. X-Scope-OrgID for a Mimir/Thanos tenant; a
            # secret value is given as file:/path or env:NAME
            "headers": {},
            # evaluation step of every signal; 60 s resolves a 1-5 minute alarm
            "step_s": 60,
            # Prometheus refuses more than 11,000 points per series in one range query
            "max_points": 11000,
            # longest range one query asks for (servers with a max query length)
            "max_range_s": 86400,
            # queries in flight at once, per collection
            "concurrency": 4,
            "timeout_s": 60.0,
            # retries of a 429/502/503/504 or a dropped connection (backoff with jitter)
            "retries": 2,
            # a span longer than this with no point of a signal is a "partial" gap: data
            # missing there. Why 15 min: shorter holes are scrape intervals, the 5 min
            # lookback and rate() ranges at a series' start, not missing data
            "hole_s": 900,
            # relabelled clusters: declared name -> the cluster's name
            "metric_names": {},
            "label_names": {},
            # signals to collect; empty: every declared signal
            "signals": [],
            # raw series some detectors read themselves (kube-state-metrics' restart
            # counter), kept per the listed labels at the step: metric -> labels
            "raw_metrics": {"kube_pod_container_status_restarts_total":
                            ["namespace", "pod", "container"]},
        },
        "loki": {
            "url": "", "logql": [], "bearer_token_file": "", "bearer_token_env": "",
            "ca_file": "", "insecure": False, "headers": {},
            # log format of the pulled lines (auto: detected per stream)
            "format": "auto",
            # lines per request (Loki's max_entries_limit_per_query defaults to 5000)
            "limit": 5000,
            # longest range one request asks for (Loki's max_query_length defaults to 721h)
            "max_range_s": 86400,
            "timeout_s": 60.0,
            # retries of a 429 or 5xx, with exponential backoff and jitter, capped
            "retries": 5,
            "backoff_s": 1.0,
            "backoff_max_s": 30.0,
        },
        "logs": {"globs": [], "format": "auto"},
    },
}


def _rule_defaults() -> dict[str, dict[str, Any]]:
    """``thresholds.<rule>`` defaults, read from the registered detectors and causes: each
    rule declares its thresholds with the reason for each, so config cannot drift from it."""
    from rca.causes import REGISTRY
    from rca.incidents import DETECTORS, MERGE_THRESHOLDS
    from rca.suspects import THRESHOLDS as SUSPECTS

    out = {"incidents": {k: t.default for k, t in MERGE_THRESHOLDS.items()},
           "suspects": {k: t.default for k, t in SUSPECTS.items()}}
    out.update({d.name: d.defaults() for d in DETECTORS.values()})
    out.update({c.config_key: c.defaults() for c in REGISTRY.values()})
    return out


DEFAULTS["thresholds"] = _rule_defaults()


@dataclass
class Config:
    values: dict[str, Any]
    origins: dict[str, str] = field(default_factory=dict)

    def get(self, dotted: str) -> Any:
        node: Any = self.values
        for part in dotted.split("."):
            node = node[part]
        return node

    def thresholds(self, rule: str) -> dict[str, Any]:
        return dict(self.values["thresholds"].get(rule, {}))

    def flat(self) -> list[tuple[str, Any, str]]:
        """(dotted key, value, origin) for every leaf, in order."""
        out: list[tuple[str, Any, str]] = []

        def walk(prefix: str, node: Any) -> None:
            if isinstance(node, dict) and node and prefix not in _OPEN_MAPS:
                for k, v in node.items():
                    walk(f"{prefix}.{k}" if prefix else k, v)
            else:
                out.append((prefix, node, self.origins.get(prefix, "default")))

        walk("", self.values)
        return out


# Mappings whose keys are the user's own (not validated against defaults).
_OPEN_MAPS = {"logs.jsonl_fields", "logs.zones", "sources.prometheus.headers",
              "sources.loki.headers", "sources.prometheus.metric_names",
              "sources.prometheus.label_names", "sources.prometheus.raw_metrics"}
#: Open maps whose values are lists (metric -> the labels kept), not strings.
_LIST_VALUED = {"sources.prometheus.raw_metrics"}


def _merge(base: dict, over: Mapping, origin: str, origins: dict, prefix: str = "") -> None:
    for key, value in over.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if key not in base:
            known = ", ".join(sorted(base)) or "(none)"
            raise ConfigError(f"{origin}: unknown key '{dotted}' (known here: {known})")
        current = base[key]
        if isinstance(current, dict) and dotted not in _OPEN_MAPS:
            if not isinstance(value, Mapping):
                raise ConfigError(f"{origin}: '{dotted}' must be a mapping")
            _merge(current, value, origin, origins, dotted)
            continue
        base[key] = _check_type(dotted, current, value, origin)
        if dotted.startswith("thresholds.") and isinstance(base[key], (int, float)) \
                and base[key] < 0:
            raise ConfigError(f"{origin}: '{dotted}' must not be negative, got {value!r}")
        origins[dotted] = origin


def _check_type(dotted: str, current: Any, value: Any, origin: str) -> Any:
    if isinstance(current, bool) or current is None:
        return value
    if isinstance(current, (int, float)) and not isinstance(value, bool):
        if isinstance(value, (int, float)):
            return type(current)(value) if isinstance(current, float) else value
    elif isinstance(current, str) and isinstance(value, str):
        return value
    elif isinstance(current, list) and isinstance(value, list):
        return value
    elif isinstance(current, dict) and isinstance(value, Mapping):
        return _merge_open_map(dotted, current, value, origin)
    raise ConfigError(
        f"{origin}: '{dotted}' must be {type(current).__name__}, got {value!r}"
    )


def _merge_open_map(dotted: str, current: dict, value: Mapping, origin: str) -> dict:
    """A mapping of the user's own keys adds to the defaults; ``key: null`` removes a
    default (``raw_metrics: {kube_pod_container_status_restarts_total: null}`` stops
    pulling it). Values keep their shape: a list of label names stays a list (it was
    once turned into its ``str``, and each character became a label)."""
    merged, lists = dict(current), dotted in _LIST_VALUED
    for key, v in value.items():
        if v is None:
            merged.pop(str(key), None)
        elif lists and isinstance(v, list) and all(isinstance(x, str) for x in v):
            merged[str(key)] = list(v)
        elif not lists and isinstance(v, (str, int, float)) and not isinstance(v, bool):
            merged[str(key)] = str(v)
        else:
            want = "a list of strings" if lists else "a string"
            raise ConfigError(f"{origin}: '{dotted}.{key}' must be {want} (or null to "
                              f"drop it), got {v!r}")
    return merged


def _find_file(explicit: str | None) -> tuple[Path | None, str]:
    if explicit:
        return Path(explicit), "--config"
    env = os.environ.get("RCA_CONFIG")
    if env:
        return Path(env), "$RCA_CONFIG"
    local = Path("rca.yaml")
    if local.exists():
        return local, "./rca.yaml"
    return None, ""


def load(explicit: str | None = None, overrides: Mapping[str, Any] | None = None) -> Config:
    """Defaults, then the config file, then command-line overrides (dotted keys)."""
    values = copy.deepcopy(DEFAULTS)
    origins: dict[str, str] = {}
    path, how = _find_file(explicit)
    if path is not None:
        if not path.exists():
            raise ConfigError(f"config file {path} ({how}) does not exist")
        if path.is_dir():
            raise ConfigError(f"config file {path} ({how}) is a directory, not a YAML file")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {path} ({how}) cannot be read: {exc}") from exc
        if not isinstance(data, Mapping):
            raise ConfigError(f"{path}: top level must be a mapping")
        _merge(values, data, f"{path}", origins)
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        node = values
        parts = dotted.split(".")
        for part in parts[:-1]:
            node = node[part]
        node[parts[-1]] = _check_type(dotted, node[parts[-1]], value, "flag")
        origins[dotted] = "flag"
    from rca.timeutil import TimeError, get_zone

    try:
        get_zone(values["tz"])
    except TimeError as exc:
        where = origins.get("tz", "default")
        raise ConfigError(f"--tz: {exc}" if where == "flag" else f"{where}: tz: {exc}") from exc
    return Config(values, origins)
