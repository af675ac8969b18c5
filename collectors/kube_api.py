"""The live Kubernetes collector: the API server's objects → the file collector's rows.

Why fetch and shaping apart: each list is fetched as the raw JSON the API server sends
(``_preload_content=False``), which is exactly what ``kubectl get … -o json`` writes, and
handed to ``collectors.kube.shape_items``. A live collection and a collection of the same
objects dumped to files therefore give the same rows and row ids, and shaping is written
once.

``RESOURCES`` is the one list of what is read. The collector iterates it, ``rca watch``
watches the entries marked ``watch``, and the RBAC test derives the ClusterRole in
``deploy/`` from it, so the permissions asked for are exactly the calls made.

Failures are named, not fatal to the rest: a 403 on one namespace or a group the server
does not serve becomes a ``Gap``; an expired continue token (410) restarts the list,
skipping what was already read. Only what makes every further call fail (no cluster,
credentials refused) stops this source, as a ``LiveError`` with one clear line.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

import pandas as pd

from collectors.base import ParseContext
from collectors.kube import KubeBatch, shape_items
from rca.live import FACTORIES, Flags, Gap, LiveError
from rca.timeutil import to_display

__all__ = ["RESOURCES", "KubeLive", "Resource", "Unreachable", "backoff", "classify_error",
           "connect", "first_line", "http_status", "kube_sources", "list_pages", "rbac_rules"]


@dataclass(frozen=True)
class Resource:
    """One API collection: where it lives, which client methods list it, what it holds."""

    group: str  # "" for core
    version: str
    plural: str
    kind: str
    api: str  # the kubernetes.client class
    all_namespaces: str  # its list method across namespaces (or cluster-scoped)
    per_namespace: str = ""  # its list method in one namespace; "" if cluster-scoped
    watch: bool = False  # ``rca watch`` follows it

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


#: What the collector reads, in order. Events first: they expire soonest.
RESOURCES: tuple[Resource, ...] = (
    Resource("", "v1", "events", "Event", "CoreV1Api", "list_event_for_all_namespaces",
             "list_namespaced_event", watch=True),
    Resource("events.k8s.io", "v1", "events", "Event", "EventsV1Api",
             "list_event_for_all_namespaces", "list_namespaced_event"),
    Resource("", "v1", "pods", "Pod", "CoreV1Api", "list_pod_for_all_namespaces",
             "list_namespaced_pod"),
    Resource("", "v1", "nodes", "Node", "CoreV1Api", "list_node"),
    Resource("apps", "v1", "deployments", "Deployment", "AppsV1Api",
             "list_deployment_for_all_namespaces", "list_namespaced_deployment"),
    Resource("apps", "v1", "replicasets", "ReplicaSet", "AppsV1Api",
             "list_replica_set_for_all_namespaces", "list_namespaced_replica_set"),
    Resource("apps", "v1", "daemonsets", "DaemonSet", "AppsV1Api",
             "list_daemon_set_for_all_namespaces", "list_namespaced_daemon_set"),
    Resource("apps", "v1", "statefulsets", "StatefulSet", "AppsV1Api",
             "list_stateful_set_for_all_namespaces", "list_namespaced_stateful_set"),
    Resource("", "v1", "services", "Service", "CoreV1Api",
             "list_service_for_all_namespaces", "list_namespaced_service"),
    Resource("", "v1", "endpoints", "Endpoints", "CoreV1Api",
             "list_endpoints_for_all_namespaces", "list_namespaced_endpoints"),
    Resource("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", "DiscoveryV1Api",
             "list_endpoint_slice_for_all_namespaces", "list_namespaced_endpoint_slice"),
)

#: Items per list request: the page size kubectl uses; big enough to keep requests few,
#: small enough that one page of pods stays a few MB.
PAGE_LIMIT = 500
#: Seconds to wait for the API server's answer (connect and read): a stuck API server is
#: a named gap, not a hung cron job (``sources.kube.timeout_s``).
TIMEOUT_S = 120.0
#: Retries of a request that timed out or could not connect, with exponential backoff
#: and jitter (``sources.kube.retries``), before the source is given up.
RETRIES = 2
#: Restarts of one list after 410 Gone before it is given up as a gap.
MAX_RELISTS = 3


def rbac_rules() -> dict[tuple[str, str], set[str]]:
    """(API group, resource) → verbs this code uses: what ``deploy/`` must grant."""
    rules: dict[tuple[str, str], set[str]] = {}
    for res in RESOURCES:
        verbs = rules.setdefault((res.group, res.plural), set())
        verbs.add("list")
        if res.watch:
            verbs.add("watch")
    return rules


# -- connecting ----------------------------------------------------------------------------
def connect(kubeconfig: str = "", context: str = "", in_cluster: bool = False):
    """An ``ApiClient`` configured the way kubectl would be (kubeconfig + context), or
    from the pod's service account. Errors are one line and never echo credentials."""
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    cfg = client.Configuration()
    # no hidden retries in urllib3 (3 by default, at once): ``list_pages`` retries, bounded,
    # with backoff, and says how often it tried
    cfg.retries = 0
    try:
        if in_cluster:
            config.load_incluster_config(client_configuration=cfg)
            return client.ApiClient(cfg)
        path = os.path.expanduser(kubeconfig or os.environ.get("KUBECONFIG", "")
                                  or "~/.kube/config")
        if not os.path.exists(path.split(os.pathsep)[0]):
            raise LiveError(f"kube: no kubeconfig at {path} (give --kubeconfig, "
                            "or --in-cluster inside a pod)")
        config.load_kube_config(config_file=path, context=context or None,
                                client_configuration=cfg)
        return client.ApiClient(cfg)
    except ConfigException as exc:
        where = "in-cluster service account" if in_cluster else "kubeconfig"
        raise LiveError(f"kube: cannot use the {where}: {first_line(exc)}") from exc


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


# -- listing -------------------------------------------------------------------------------
class Unreachable(LiveError):
    """No answer from the API server (refused, timed out): ``rca watch`` retries it."""


class Forbidden(Exception):
    """403 on one list: named as a gap, the other lists go on."""


class NotServed(Exception):
    """404: the server does not serve this group/version (an older cluster)."""


class Expired(Exception):
    """410 on every re-list: the collection changes faster than it can be paged."""


def list_pages(api_client, res: Resource, namespace: str = "", limit: int = PAGE_LIMIT,
               timeout_s: float = TIMEOUT_S, retries: int = RETRIES,
               sleep: Callable[[float], None] = time.sleep) -> Iterator[dict]:
    """Each page of one list as the raw JSON document, following ``continue``.

    An expired continue token (410 Gone) restarts the list from the beginning; the
    caller skips items it already has (by uid), as the new snapshot repeats them. A
    request that gets no answer (timed out, refused) is retried ``retries`` times with
    backoff and jitter, then the server is taken as unreachable.
    """
    from kubernetes import client

    api = getattr(client, res.api)(api_client)
    method = getattr(api, res.per_namespace if namespace else res.all_namespaces)
    args = {"namespace": namespace} if namespace else {}
    token, relists, failures = "", 0, 0
    while True:
        try:
            resp = method(**args, limit=limit, _continue=token or None,
                          _preload_content=False, _request_timeout=(timeout_s, timeout_s))
            page = json.loads(resp.data)
        except Exception as exc:  # noqa: BLE001 - sorted by _classify
            if http_status(exc) == 410 and token:
                if relists >= MAX_RELISTS:
                    raise Expired(f"410 Gone: the list changed faster than it could be "
                                  f"paged ({MAX_RELISTS} re-lists)") from exc
                token, relists = "", relists + 1
                continue
            error = classify_error(exc, api_client, res, namespace, timeout_s)
            if isinstance(error, Unreachable) and failures < retries:
                failures += 1
                sleep(backoff(failures))
                continue
            if isinstance(error, Unreachable) and failures:
                error = Unreachable(f"{error} (tried {failures + 1} times)")
            raise error from exc
        failures = 0
        yield page
        token = (page.get("metadata") or {}).get("continue") or ""
        if not token:
            return


def http_status(exc: BaseException) -> int | None:
    from kubernetes.client.exceptions import ApiException

    return exc.status if isinstance(exc, ApiException) else None


def backoff(failures: int, base_s: float = 0.5, cap_s: float = 8.0) -> float:
    """Seconds before retry number ``failures``: doubling, capped, with jitter on its
    upper half so many collectors do not retry in step."""
    ceiling = min(cap_s, base_s * 2 ** (failures - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def classify_error(exc: BaseException, api_client, res: Resource, namespace: str,
                   timeout_s: float = TIMEOUT_S) -> Exception:
    """A client exception as the error this collector acts on, message on one line."""
    host = api_client.configuration.host
    status = http_status(exc)
    what = f"{res.plural} in namespace {namespace}" if namespace else res.plural
    if status == 401:
        return LiveError(f"kube: the API server at {host} refused the credentials "
                         "(401 Unauthorized): expired token or certificate? refresh the "
                         "kubeconfig (run any kubectl command) and retry")
    if status == 403:
        hint = "" if namespace or not res.per_namespace else (
            " in all namespaces (name the ones you may read: --namespace or "
            "sources.kube.namespaces)")
        return Forbidden(f"403 Forbidden: not allowed to list {what}{hint}")
    if status == 404:
        return NotServed(f"404: {res.group_version} {res.plural} not served by this server")
    if status is not None:
        return LiveError(f"kube: listing {what} at {host} failed: HTTP {status}")
    if isinstance(exc, ValueError):
        return LiveError(f"kube: {host} answered {what} with something that is not JSON")
    if "timed out" in str(exc).lower():
        return Unreachable(f"kube: the API server at {host} did not answer {what} within "
                           f"{timeout_s:g} s (timed out)")
    return Unreachable(f"kube: cannot reach the API server at {host}: {first_line(exc)}")


# -- the live source -----------------------------------------------------------------------
class KubeLive:
    """The ``LiveSource`` for one cluster: every resource of ``RESOURCES``, shaped."""

    name = "kube"

    def __init__(self, api_client, namespaces: list[str] | None = None,
                 limit: int = PAGE_LIMIT, timeout_s: float = TIMEOUT_S,
                 retries: int = RETRIES) -> None:
        self.api_client, self.namespaces, self.limit = api_client, list(namespaces or []), limit
        self.timeout_s, self.retries = timeout_s, retries
        self.requests = 0
        self.window: tuple[pd.Timestamp | None, pd.Timestamp | None] = (None, None)

    def fetch(self, since: pd.Timestamp, until: pd.Timestamp,
              ctx: ParseContext) -> Iterator[KubeBatch]:
        keep = int(ctx.settings.get("show_malformed", 3))
        self.window = (since, until)  # what a refused list leaves out
        seen: dict[str, set[str]] = {}
        forbidden: dict[str, list[str]] = {}  # namespace -> resources it refused
        oldest: pd.Timestamp | None = None
        last_event_resource = max(i for i, r in enumerate(RESOURCES) if r.kind == "Event")
        for i, res in enumerate(RESOURCES):
            batch = self.fetch_resource(res, ctx, keep, seen.setdefault(res.kind, set()),
                                        forbidden)
            events = batch.frames.get("events")
            if res.kind == "Event" and events is not None and len(events):
                # the TTL counts from an event's last update: the oldest last_seen still
                # listed is how far back finished events reach
                first = events["last_seen"].min()
                oldest = first if oldest is None else min(oldest, first)
            if i == last_event_resource:
                reach = events_reach_gap(oldest, since, until, ctx.zone)
                batch.gaps.extend([reach] if reach else [])
            if i == len(RESOURCES) - 1:
                batch.gaps.extend(_forbidden_gaps(forbidden, since, until))
            yield batch

    def fetch_resource(self, res: Resource, ctx: ParseContext, keep: int,
                       seen: set[str], forbidden: dict[str, list[str]]) -> KubeBatch:
        """One resource across the configured namespaces (or all of them). A 403 is
        noted in ``forbidden`` (one gap per namespace at the end, not one per resource)."""
        batch = KubeBatch(source=f"kube: {res.group_version} {res.plural}")
        scopes = self.namespaces if (self.namespaces and res.per_namespace) else [""]
        for namespace in scopes:
            try:
                for page in list_pages(self.api_client, res, namespace, self.limit,
                                       self.timeout_s, self.retries):
                    self.requests += 1
                    items = [i for i in page.get("items") or [] if _new(i, seen)]
                    shape_items(items, ctx, batch, keep, default_kind=res.kind)
            except Forbidden as exc:
                if namespace:
                    forbidden.setdefault(namespace, []).append(res.plural)
                else:
                    batch.gaps.append(Gap("kube", f"{res.group_version} {res.plural}",
                                          str(exc), *self.window))
            except (NotServed, Expired) as exc:
                where = f" in namespace {namespace}" if namespace else ""
                batch.gaps.append(Gap("kube", f"{res.group_version} {res.plural}{where}",
                                      str(exc), *self.window))
        return batch


def _forbidden_gaps(forbidden: dict[str, list[str]], since: pd.Timestamp,
                    until: pd.Timestamp) -> list[Gap]:
    return [Gap("kube", f"namespace {ns}",
                f"403 Forbidden: not allowed to list {', '.join(dict.fromkeys(plurals))}",
                since, until)
            for ns, plurals in forbidden.items()]


def _new(item: Any, seen: set[str]) -> bool:
    """False for an item already read (same uid): a re-listed page after 410, or the same
    Event served by both core/v1 and events.k8s.io/v1."""
    meta = item.get("metadata") if isinstance(item, dict) else None
    uid = meta.get("uid") if isinstance(meta, dict) else None
    if not uid:
        return True
    if uid in seen:
        return False
    seen.add(uid)
    return True


#: Slack before ``since`` counts as "reaching back": events are listed to the second.
_REACH_SLACK = pd.Timedelta(minutes=5)


def events_reach_gap(oldest: pd.Timestamp | None, since: pd.Timestamp,
                     until: pd.Timestamp, zone: tzinfo) -> Gap | None:
    """The part of the window no Event covers any more.

    The API server deletes Events after ``--event-ttl`` (one hour by default), so a
    24 h collection sees only the last hour of them. Restart counts and last
    terminations on the pods outlive that; ``rca watch`` keeps the Events themselves.
    """
    reach = until if oldest is None else max(oldest, since)
    if reach - since <= _REACH_SLACK:
        return None
    return Gap("kube", f"events before {to_display(reach, zone)}",
               "the API server keeps events ~1 h (--event-ttl); older ones have expired: "
               "pod restart counts and last terminations stand in, run `rca watch` to keep "
               "events", since=since, until=reach)


# -- the factory ---------------------------------------------------------------------------
def kube_sources(config, flags: Flags) -> list[KubeLive]:
    """The cluster of ``sources.kube`` (enabled) or of the --kubeconfig/--context/
    --in-cluster flags, as one live source."""
    conf = config.get("sources.kube")
    wanted = (conf.get("enabled") or flags.get("kubeconfig") or flags.get("context")
              or flags.get("in_cluster") or flags.get("namespace"))
    if not wanted:
        return []
    return [LazyKubeLive(
        kubeconfig=flags.get("kubeconfig", conf.get("kubeconfig", "")),
        context=flags.get("context", conf.get("context", "")),
        in_cluster=bool(flags.get("in_cluster", conf.get("in_cluster", False))),
        namespaces=flags.get("namespace") or conf.get("namespaces") or [],
        timeout_s=float(conf.get("timeout_s", TIMEOUT_S)),
        retries=int(conf.get("retries", RETRIES)),
        limit=int(conf.get("page_limit", PAGE_LIMIT)),
    )]


class LazyKubeLive(KubeLive):
    """Connects when fetched, so a bad kubeconfig is this source's error, not start-up's."""

    def __init__(self, kubeconfig: str, context: str, in_cluster: bool,
                 namespaces: list[str], timeout_s: float = TIMEOUT_S,
                 retries: int = RETRIES, limit: int = PAGE_LIMIT) -> None:
        super().__init__(None, namespaces, limit, timeout_s, retries)
        self.settings = {"kubeconfig": kubeconfig, "context": context, "in_cluster": in_cluster}

    def fetch(self, since, until, ctx):
        if self.api_client is None:
            self.api_client = connect(**self.settings)
        yield from super().fetch(since, until, ctx)


FACTORIES.append(kube_sources)
