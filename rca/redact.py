"""Credentials out of everything ``rca`` keeps or prints.

Why one module, applied at the boundaries: a token reaches us through a probe path
(``/healthz?token=…``), an event message quoting a URL, a JSON-lines ``upstream``, a
metric label, a malformed line echoed back, a config value. Parsers are many and change
often; the places data leaves a parser are few: the batch going to the store and the
summary (``rca.collect``), terminal and JSON output (``rca.output``), the report's input
(``rca.commands``). So redaction happens there, and nowhere else needs to remember it.

What counts as a credential (names compared word by word, so ``signal`` is not ``sig``):

- the value of a ``name=value`` pair (URL query, form, ``--flag=``, ``key=value`` logs)
  whose name has a word like token, secret, password, key, signature, sig, auth,
  credential, cookie, session;
- the value of a ``Name: value`` header or a JSON/YAML ``"name": "value"`` with such a
  name (a bare ``key`` only in ``=`` pairs: ``"key": "context"`` is a config table row);
- URL userinfo (``scheme://user:pass@host``), ``Bearer …`` anywhere;
- well-known token shapes: JWTs, AWS access key ids, GitHub/GitLab/Slack tokens, Google
  API keys, PEM private keys.

Over-redaction is accepted (a ``cache_key=`` value is lost); a leak is not. Names ending
in ``file``/``path``/``env`` refer to a secret rather than hold one and are kept, so
``rca config`` still shows which token file is used.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["HINT", "MASK", "redact_batch", "redact_frame", "redact_obj", "redact_text",
           "sensitive_name"]

MASK = "[REDACTED]"

#: Words that make a name sensitive in any syntax.
_STRONG = frozenset({
    "token", "tokens", "secret", "secrets", "password", "passwd", "passphrase", "pwd",
    "pass", "apikey", "signature", "auth", "authorization", "authentication",
    "credential", "credentials", "cookie", "session", "sessionid", "jwt", "bearer",
    "privatekey", "accesskey", "secretkey", "sas", "otp", "webhook",
})
#: Words that are sensitive after another word (``x-api-key``, ``access_key``) and, in
#: ``=`` pairs, alone (``?key=…``, ``&sig=…``).
_WEAK = frozenset({"key", "sig"})
_REFERENCES = frozenset({"file", "path", "env", "name", "type", "ref"})

_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")

#: A cheap superset test (RE2-compatible, so pandas runs it in Arrow over a whole
#: column) that every redacted string matches; only matching rows go through Python.
_HINT_WORDS = ("token|secret|pass|pwd|key|sig|auth|credential|cookie|session|jwt|bearer|sas|otp"
               "|webhook")
HINT = ("(?:" + _HINT_WORDS + "|://[^/\\s]*@|eyj|akia|asia|gh[pousr]_|github_pat_|"
        "xox[abprs]-|glpat-|sk-|aiza|private key)")  # matched ignoring case

_VALUE = r"""(?:"[^"\n]*"|'[^'\n]*'|[^\s&#"'<>,;\\]+)"""
#: A name holding one of the hint words. Names without one are not matched at all, so a
#: harmless pair cannot swallow a secret quoted inside it (``url="/m?secret=…"``).
_STEM = r"(?=[A-Za-z])[\w.-]{0,40}?(?i:" + _HINT_WORDS + r")[\w.-]{0,40}"
_HEADER_STEM = r"(?=[A-Za-z])[\w-]{0,40}?(?i:" + _HINT_WORDS + r")[\w-]{0,40}"  # no dots
_PAIR = re.compile(r"(?<![\w.])(?P<name>" + _STEM + r")(?P<sep>=)(?P<value>" + _VALUE + ")")
_HEADER = re.compile(
    r"(?<![\w.])(?P<name>" + _HEADER_STEM + r")(?P<sep>\s*:[ \t]*)"
    r"(?P<value>(?:(?:Bearer|Basic|Digest|Token|Negotiate|ApiKey|AWS4-HMAC-SHA256)\s+)?"
    r"(?:\"[^\"\n]*\"|'[^'\n]*'|[^\s\"',;\\]+))")
_JSON = re.compile(
    r"(?P<q>\\?\")(?P<name>" + _STEM + r")(?P=q)(?P<sep>\s*:\s*)"
    r"(?P=q)(?P<value>(?:[^\"\\]|\\[^\"])*)(?P=q)")
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][\w+.-]*://)[^/\s@\"'<>?#]+@")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/-]+=*")
_SHAPES = re.compile(
    r"eyJ[\w-]{6,}(?:\.[\w-]*){0,2}"                       # JWT (also cut short)
    r"|\b(?:AKIA|ASIA)[0-9A-Z]{12,}"                        # AWS access key id
    r"|\bgh[pousr]_[A-Za-z0-9]{8,}|\bgithub_pat_\w{8,}"    # GitHub
    r"|\bglpat-[\w-]{8,}|\bxox[abprs]-[\w-]{8,}"           # GitLab, Slack
    r"|\bsk-[A-Za-z0-9_-]{16,}|\bAIza[\w-]{16,}"           # API keys
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----(?:.*?-----END [A-Z ]*PRIVATE KEY-----|.*)",
    re.DOTALL)


def sensitive_name(name: str, bare_weak: bool = False) -> bool:
    """Whether a field, header or parameter called ``name`` holds a credential."""
    words = [w.lower() for w in _WORDS.findall(name)]
    if not words or words[-1] in _REFERENCES:
        return False
    if any(w in _STRONG for w in words):
        return True
    weak = [i for i, w in enumerate(words) if w in _WEAK]
    return bool(weak) and (bare_weak or len(words) > 1)


def redact_text(text: str) -> str:
    """``text`` with every credential it carries replaced by ``[REDACTED]``."""
    if not text or not _HINT_RE.search(text):
        return text
    text = _SHAPES.sub(MASK, text)
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", text)
    text = _BEARER.sub(lambda m: f"{m[1]} {MASK}", text)
    text = _JSON.sub(_masked(False, quoted=True), text)
    text = _PAIR.sub(_masked(True), text)
    return _HEADER.sub(_masked(False), text)


def _masked(bare_weak: bool, quoted: bool = False):
    def replace(m: re.Match) -> str:
        if not sensitive_name(m["name"], bare_weak) or m["value"] in ("", MASK):
            return m[0]
        value = m["value"]
        scheme = re.match(r"(?i)(bearer|basic|digest|token|negotiate|apikey|aws4-hmac-sha256)"
                          r"\s+", value) if not quoted else None
        keep = scheme[0] if scheme else ""
        if value[:1] in "\"'" and not quoted:
            return f"{m['name']}{m['sep']}{value[0]}{MASK}{value[0]}"
        q = m["q"] if quoted else ""
        return f"{q}{m['name']}{q}{m['sep']}{q}{keep}{MASK}{q}"
    return replace


_HINT_RE = re.compile(HINT, re.IGNORECASE)


def redact_obj(value: Any, key: str = "") -> Any:
    """A JSON-like value redacted throughout; a string under a sensitive key is masked
    whole (a header dict's ``X-Api-Key`` value has no syntax that gives it away)."""
    if isinstance(value, str):
        return MASK if key and value and sensitive_name(key) else redact_text(value)
    if isinstance(value, Mapping):
        return {k: redact_obj(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_obj(v, key) for v in value]
    return value


def redact_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Every text column but ``row_id`` (a hash) redacted, in place; the hint runs
    vectorised, so a million clean rows cost a regex scan per column, not a Python call."""
    for col in df.columns:
        column = df[col]
        if col == "row_id" or not pd.api.types.is_string_dtype(column.dtype):
            continue
        hits = _hits(column)
        if hits.any():  # positions, not labels: a time index repeats
            values = column.to_numpy(dtype=object, copy=True)
            values[hits] = [redact_text(v) for v in values[hits]]
            df[col] = pd.array(values, dtype=column.dtype)
    return df


def _hits(column: pd.Series) -> np.ndarray:
    """Rows the hint matches, by Arrow's RE2 directly: pandas' ``str.contains`` falls back
    to Python's ``re`` for this pattern and costs ~40 s per million rows instead of ~0.1.
    A column of few distinct values (service, status, station) is matched once per value:
    the hint costs ~40 ns a row, a dictionary lookup a third of that."""
    arr = pa.array(column, from_pandas=True, type=pa.large_string())
    if isinstance(arr, pa.ChunkedArray):  # a concatenation of Arrow-backed frames
        arr = arr.combine_chunks()
    if len(arr) >= 4 * _SAMPLE and len(pc.unique(arr.slice(0, _SAMPLE))) < _SAMPLE // 10:
        coded = pc.dictionary_encode(arr)
        found = pc.match_substring_regex(coded.dictionary, HINT, ignore_case=True)
        return found.fill_null(False).take(coded.indices).fill_null(False).to_numpy(
            zero_copy_only=False)
    found = pc.match_substring_regex(arr, HINT, ignore_case=True)
    return found.fill_null(False).to_numpy(zero_copy_only=False)


#: Values looked at to tell a column of few distinct values.
_SAMPLE = 1000


def redact_batch(batch) -> None:
    """A collector's batch redacted in place: its frames, its malformed-line samples
    (shown on the terminal and kept in ``collections/*.json``) and its gaps."""
    for frame in batch.frames.values():
        redact_frame(frame)
    batch.source = redact_text(batch.source)
    batch.samples = [_redact_fields(m) for m in batch.samples]
    batch.gaps = [_redact_fields(g) for g in batch.gaps]


def _redact_fields(item):
    """A dataclass with each of its text fields redacted."""
    if not dataclasses.is_dataclass(item):
        return item
    changes = {f.name: redact_text(v) for f in dataclasses.fields(item)
               if isinstance(v := getattr(item, f.name), str)}
    return dataclasses.replace(item, **changes)
