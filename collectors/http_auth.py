"""Credentials and TLS for the HTTP live sources (Prometheus-compatible engines, Loki).

Why secrets only as files or environment variables: ``rca.yaml`` is shown by ``rca
config``, committed to repositories and copied into tickets. A bearer token is therefore
named, never written: ``bearer_token_file`` (what a Kubernetes service account mounts) or
``bearer_token_env``; a header value may be ``file:/path`` or ``env:NAME`` for the same
reason (``Authorization`` for a proxy, a tenant token). Resolved values live only in the
request headers; every error text passes through :func:`redact` before it is shown.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from rca.redact import redact_text

__all__ = ["AuthError", "headers", "parse_header_flags", "redact", "verify"]


class AuthError(ValueError):
    """A credential named in the config cannot be read; the message names which, not it."""


def _secret(spec: str, what: str) -> str:
    """The value behind ``file:PATH`` / ``env:NAME``; any other text is taken as is."""
    if spec.startswith("file:"):
        return _read_file(spec[5:], what)
    if spec.startswith("env:"):
        name = spec[4:]
        if name not in os.environ:
            raise AuthError(f"{what}: environment variable {name} is not set")
        return os.environ[name].strip()
    return spec


def _read_file(path: str, what: str) -> str:
    try:
        return Path(path).expanduser().read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise AuthError(f"{what}: cannot read {path}: {exc.strerror or exc}") from None


def headers(extra: Mapping[str, str], token_file: str = "", token_env: str = "",
            what: str = "source") -> dict[str, str]:
    """Request headers: the configured ones resolved, plus ``Authorization: Bearer``."""
    out = {str(k): _secret(str(v), f"{what} header {k}") for k, v in extra.items()}
    token = ""
    if token_file:
        token = _read_file(token_file, f"{what} bearer token file")
    elif token_env:
        token = _secret(f"env:{token_env}", f"{what} bearer token")
    if token:
        out["Authorization"] = f"Bearer {token}"
    return out


def verify(ca_file: str, insecure: bool) -> bool | str:
    """``requests``' ``verify``: a CA bundle path, ``False`` when told so, else the system's."""
    if insecure:
        return False
    if ca_file:
        if not Path(ca_file).expanduser().is_file():
            raise AuthError(f"CA file {ca_file} does not exist")
        return str(Path(ca_file).expanduser())
    return True


def parse_header_flags(values: Iterable[str]) -> dict[str, str]:
    """``--…-header K=V`` flags as a mapping; a flag without ``=`` is refused."""
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise AuthError(f"header {item!r}: expected NAME=VALUE")
        out[key.strip()] = value
    return out


def redact(text: str, secret_headers: Mapping[str, str]) -> str:
    """``text`` with every header value we sent replaced by ``***`` (a server may echo a
    token in no syntax that gives it away), then the usual credential redaction."""
    for value in secret_headers.values():
        for part in {value, value.removeprefix("Bearer ")}:
            if len(part) >= 4:
                text = text.replace(part, "***")
    return redact_text(text)
