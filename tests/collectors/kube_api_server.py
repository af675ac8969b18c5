"""A stand-in Kubernetes API server on 127.0.0.1 (HTTPS) for the live collector's tests.

Why not a mock: the real ``kubernetes`` Python client and Debian's ``kubectl`` both talk to
it over HTTP, so what it serves is held to what real clients accept: discovery documents,
typed lists without per-item ``kind`` (as the API server sends them), ``limit``/``continue``
paging, ``Status`` bodies for 401/403/404/410, and chunked watch streams of JSON lines.

Knobs a test turns: ``forbidden`` namespaces (403), continue tokens that expire once
(410), a bearer token (401 otherwise), watch changes, a watch connection that drops after
N events, and a compacted resourceVersion (watch 410 as an ERROR event).

HTTPS with a throw-away certificate made by ``openssl`` (``make_certificate``): kubectl
does not send a bearer token over plain HTTP, and a real cluster is never plain HTTP.
"""

from __future__ import annotations

import base64
import copy
import json
import ssl
import subprocess
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from collectors.kube_api import RESOURCES

__all__ = ["FIXTURES", "TOKEN", "FakeApiServer", "as_core_event", "as_events_v1",
           "debian_kubectl", "kubeconfig_text", "make_certificate", "serve_fixtures"]


#: The bearer token the stand-in accepts; tests assert it never reaches output or store.
TOKEN = "stand-in-token-7c1e9a3f5b"


#: Debian's kubectl (package kubernetes-client), installed by scripts/install-system-deps.sh;
#: unpacked aside when another package owns /usr/bin/kubectl.
KUBECTL_ASIDE = "/opt/debian-kubernetes-client/usr/bin/kubectl"


def debian_kubectl() -> str:
    """The path of Debian's kubectl; the tests need that one, not any kubectl."""
    if Path(KUBECTL_ASIDE).exists():
        return KUBECTL_ASIDE
    owner = subprocess.run(["dpkg", "-S", "/usr/bin/kubectl"], capture_output=True, text=True)
    if owner.stdout.startswith("kubernetes-client:"):
        return "/usr/bin/kubectl"
    raise FileNotFoundError("Debian's kubectl is missing: run scripts/install-system-deps.sh")


def make_certificate(folder) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1, valid one day: (cert path, key path)."""
    cert, key = f"{folder}/apiserver.crt", f"{folder}/apiserver.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


#: core/v1 Event field → events.k8s.io/v1 field: the API server converts one into the other.
_EVENT_FIELDS = {"involvedObject": "regarding", "message": "note",
                 "firstTimestamp": "deprecatedFirstTimestamp",
                 "lastTimestamp": "deprecatedLastTimestamp", "count": "deprecatedCount",
                 "source": "deprecatedSource", "reportingComponent": "reportingController"}
_EVENT_SHARED = ("metadata", "reason", "type", "action", "series", "related", "eventTime",
                 "reportingInstance")


def as_events_v1(event: dict) -> dict:
    """An Event as events.k8s.io/v1 serves it (same uid), whichever API it was dumped from."""
    return _convert(event, _EVENT_FIELDS) if "involvedObject" in event else _plain(event)


def as_core_event(event: dict) -> dict:
    """An Event as core/v1 serves it, whichever API it was dumped from."""
    reverse = {new: old for old, new in _EVENT_FIELDS.items()}
    return _convert(event, reverse) if "regarding" in event else _plain(event)


def _convert(event: dict, renames: dict[str, str]) -> dict:
    out = {k: copy.deepcopy(event[k]) for k in _EVENT_SHARED if event.get(k) is not None}
    for old, new in renames.items():
        if event.get(old) is not None:
            out[new] = copy.deepcopy(event[old])
    return out


def _plain(event: dict) -> dict:
    return {k: copy.deepcopy(v) for k, v in event.items() if k not in ("kind", "apiVersion")}


def kubeconfig_text(server: str, token: str, ca_file: str, context: str = "stand-in") -> str:
    return json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": context,
        "clusters": [{"name": "stand-in", "cluster": {"server": server,
                                                      "certificate-authority": ca_file}}],
        "users": [{"name": "reader", "user": {"token": token}}],
        "contexts": [{"name": context, "context": {"cluster": "stand-in", "user": "reader"}}],
    })


@dataclass
class Change:
    rv: int
    type: str  # ADDED | MODIFIED | DELETED | BOOKMARK
    obj: dict


@dataclass
class State:
    objects: dict[tuple[str, str], list[dict]] = field(default_factory=dict)  # (gv, plural)
    token: str = TOKEN
    forbidden: set[str] = field(default_factory=set)
    expire_once: set[str] = field(default_factory=set)  # "gv/plural" whose 1st token expires
    changes: list[Change] = field(default_factory=list)  # core/v1 events watch feed
    drop_after: int | None = None  # events per watch connection before it breaks
    compacted_rv: int = 0  # watches from before this get 410
    rv: int = 1000
    requests: list[str] = field(default_factory=list)
    watch_connections: int = 0
    hold_s: float = 0.0  # how long a watch waits for new changes before it ends
    hang: int = 0  # list requests that get no answer for ``hang_s`` (a stuck server)
    hang_s: float = 0.0
    expire_always: set[str] = field(default_factory=set)  # "gv/plural": every token 410s
    lock: threading.Condition = field(default_factory=threading.Condition)


class FakeApiServer:
    """``with FakeApiServer() as api: api.url …``; stopped on exit, by its own thread."""

    def __init__(self, cert: str, key: str) -> None:
        self.cert, self.key = cert, key
        self.state = State()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- data ------------------------------------------------------------------------------
    def add(self, group_version: str, plural: str, items: Iterable[dict]) -> None:
        with self.state.lock:
            bucket = self.state.objects.setdefault((group_version, plural), [])
            for item in items:
                item = copy.deepcopy(item)
                item.pop("kind", None)  # the API server's lists carry kind on the list only
                item.pop("apiVersion", None)
                self.state.rv += 1
                item.setdefault("metadata", {})["resourceVersion"] = str(self.state.rv)
                bucket.append(item)

    def change(self, type_: str, obj: dict) -> int:
        """A change to a core/v1 Event: applied to what lists return, and served to
        watchers from older versions. Returns its resourceVersion."""
        with self.state.lock:
            self.state.rv += 1
            obj = copy.deepcopy(obj)
            obj.pop("kind", None)
            obj["metadata"]["resourceVersion"] = str(self.state.rv)
            self.state.changes.append(Change(self.state.rv, type_, obj))
            bucket = self.state.objects.setdefault(("v1", "events"), [])
            uid = obj["metadata"].get("uid")
            bucket[:] = [o for o in bucket if o["metadata"].get("uid") != uid]
            if type_ != "DELETED":
                bucket.append(obj)
            self.state.lock.notify_all()
            return self.state.rv

    # -- life ------------------------------------------------------------------------------
    def __enter__(self) -> FakeApiServer:
        handler = type("Handler", (_Handler,), {"state": self.state})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(self.cert, self.key)
        self._httpd.socket = tls.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        assert self._httpd is not None and self._thread is not None
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    @property
    def url(self) -> str:
        assert self._httpd is not None
        return f"https://127.0.0.1:{self._httpd.server_address[1]}"


def _kind_of(gv: str, plural: str) -> str:
    for res in RESOURCES:
        if res.group_version == gv and res.plural == plural:
            return res.kind
    return {"namespaces": "Namespace"}.get(plural, plural.title())


def _discovery(gv: str) -> dict:
    resources = []
    for res in RESOURCES:
        if res.group_version == gv:
            resources.append({"name": res.plural, "singularName": "",
                              "namespaced": bool(res.per_namespace), "kind": res.kind,
                              "verbs": ["get", "list", "watch"]})
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
            "resources": resources}


def _groups() -> dict:
    names = sorted({r.group for r in RESOURCES if r.group})
    groups = []
    for name in names:
        versions = sorted({r.version for r in RESOURCES if r.group == name})
        gvs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
        groups.append({"name": name, "versions": gvs, "preferredVersion": gvs[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def _status(code: int, reason: str, message: str) -> dict:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: State

    def log_message(self, *args) -> None:  # quiet: pytest shows failures, not traffic
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        with self.state.lock:
            self.state.requests.append(self.path)
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or token != self.state.token:  # RFC 6750: any case
            return self._json(401, _status(401, "Unauthorized", "Unauthorized"))
        parts = [p for p in url.path.split("/") if p]
        if parts == ["api"]:
            return self._json(200, {"kind": "APIVersions", "versions": ["v1"],
                                    "serverAddressByClientCIDRs": []})
        if parts == ["apis"]:
            return self._json(200, _groups())
        if parts == ["version"]:
            return self._json(200, {"major": "1", "minor": "28", "gitVersion": "v1.28.0"})
        if parts[:1] == ["api"]:
            gv, rest = "v1", parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            gv, rest = f"{parts[1]}/{parts[2]}", parts[3:]
        else:
            return self._json(404, _status(404, "NotFound", "the server could not find it"))
        if not rest:
            return self._json(200, _discovery(gv))
        namespace = ""
        if rest[0] == "namespaces" and len(rest) == 3:
            namespace, rest = rest[1], rest[2:]
        if len(rest) != 1 or (gv, rest[0]) not in self.state.objects:
            return self._json(404, _status(404, "NotFound", "the server could not find it"))
        plural = rest[0]
        if namespace in self.state.forbidden:
            return self._json(403, _status(403, "Forbidden", f'{plural} is forbidden: User '
                                           f'cannot list resource "{plural}" in namespace '
                                           f'"{namespace}"'))
        if query.get("watch") in ("true", "1"):
            return self._watch(query, namespace)
        return self._list(gv, plural, namespace, query)

    # -- lists -----------------------------------------------------------------------------
    def _list(self, gv: str, plural: str, namespace: str, query: dict) -> None:
        with self.state.lock:
            stuck, self.state.hang = self.state.hang > 0, max(0, self.state.hang - 1)
        if stuck:  # say nothing for a while, then answer (to a client long gone)
            time.sleep(self.state.hang_s)
        items = [i for i in self.state.objects[(gv, plural)]
                 if not namespace or i["metadata"].get("namespace") == namespace]
        start = 0
        if query.get("continue"):
            token = query["continue"]
            key = f"{gv}/{plural}"
            if key in self.state.expire_once or key in self.state.expire_always:
                self.state.expire_once.discard(key)
                return self._json(410, _status(410, "Expired", "The provided continue "
                                               "parameter is too old to display a consistent "
                                               "list result."))
            start = int(base64.b64decode(token).decode())
        limit = int(query.get("limit") or 0) or len(items) or 1
        page = items[start:start + limit]
        meta = {"resourceVersion": str(self.state.rv)}
        if start + limit < len(items):
            meta["continue"] = base64.b64encode(str(start + limit).encode()).decode()
            meta["remainingItemCount"] = len(items) - start - limit
        kind = _kind_of(gv, plural)
        self._json(200, {"kind": f"{kind}List", "apiVersion": gv, "metadata": meta,
                         "items": page})

    # -- watch -----------------------------------------------------------------------------
    def _watch(self, query: dict, namespace: str) -> None:
        """Changes after the asked version, then new ones for ``hold_s``, then the end
        (a real server holds until ``timeoutSeconds``); ``drop_after`` breaks it instead."""
        sent = int(query.get("resourceVersion") or 0)
        with self.state.lock:
            self.state.watch_connections += 1
            compacted = sent < self.state.compacted_rv
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if compacted:
            gone = _status(410, "Expired", f"too old resource version: {sent}")
            self._chunk({"type": "ERROR", "object": gone})
            return self._end()
        end, count = time.monotonic() + self.state.hold_s, 0
        while True:
            with self.state.lock:
                pending = [c for c in self.state.changes if c.rv > sent]
                if not pending:
                    if time.monotonic() >= end:
                        break
                    self.state.lock.wait(end - time.monotonic())
                    continue
            for change in pending:
                if self.state.drop_after is not None and count == self.state.drop_after:
                    self.close_connection = True  # mid-stream: no terminating chunk
                    self.wfile.flush()
                    self.connection.shutdown(2)
                    return
                sent, count = change.rv, count + 1
                obj = {**change.obj, "kind": "Event", "apiVersion": "v1"}
                if not namespace or obj["metadata"].get("namespace") == namespace:
                    self._chunk({"type": change.type, "object": obj})
        self._end()

    def _chunk(self, doc: dict) -> None:
        data = (json.dumps(doc) + "\n").encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _end(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _json(self, code: int, doc: dict) -> None:
        data = json.dumps(doc).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (a timeout test)


#: The recorded objects the stand-in serves: (group/version, resource, fixture file).
FIXTURES = (
    ("v1", "events", "events-rook-ceph.json"),
    ("v1", "pods", "pods.json"),
    ("v1", "nodes", "nodes.json"),
    ("apps/v1", "deployments", "deployments.json"),
    ("apps/v1", "replicasets", "replicasets.json"),
    ("apps/v1", "daemonsets", "daemonsets.json"),
    ("v1", "services", "services.json"),
    ("v1", "endpoints", "endpoints.json"),
    ("discovery.k8s.io/v1", "endpointslices", "endpointslices.json"),
)


def serve_fixtures(api: FakeApiServer, folder) -> None:
    """Every fixture, plus the same Events as events.k8s.io/v1 serves them."""
    for gv, plural, name in FIXTURES:
        items = json.loads((folder / name).read_text())["items"]
        if plural == "events":
            api.add("events.k8s.io/v1", "events", [as_events_v1(e) for e in items])
            items = [as_core_event(e) for e in items]
        api.add(gv, plural, items)
    api.add("apps/v1", "statefulsets", [])
