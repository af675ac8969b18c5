"""Debian's nginx as the platform's front proxy, with a config the lab writes.

Why real nginx: the faults of seeds 002 and 004 live in the proxy itself: the default
``client_max_body_size`` (1 MB) answering 413 before the app sees a byte, and an
``upstream`` pool whose dead members make nginx fail over or fail. A stand-in would only
show what we believe nginx does.

The access log is ingress-nginx's default ``upstreaminfo`` format (what most Kubernetes
front ends print, and what rca reads with the upstream address of every attempt).
``$proxy_upstream_name`` is set per location exactly as the ingress controller's
template sets it (``<namespace>-<service>-<port>``). The config keeps every nginx default
the faults depend on (no ``client_max_body_size`` line at all). nginx runs in the
foreground (``-g 'daemon off;'``) with its pid, logs and temp files in the run directory,
so it never touches the system's nginx nor leaves a service running.
"""

from __future__ import annotations

from pathlib import Path

from rca.lab.host import Namespace

__all__ = ["LOG_FORMAT", "nginx_config", "start_nginx"]

#: ingress-nginx's ``log_format upstreaminfo`` (controller default since 0.9).
LOG_FORMAT = ("'$remote_addr - $remote_user [$time_local] \"$request\" $status "
              "$body_bytes_sent \"$http_referer\" \"$http_user_agent\" $request_length "
              "$request_time [$proxy_upstream_name] [$proxy_alternative_upstream_name] "
              "$upstream_addr $upstream_response_length $upstream_response_time "
              "$upstream_status $req_id'")


def nginx_config(run_dir: Path, access_log: Path, listen: str,
                 pools: dict[str, list[str]], namespace: str = "lab", port: int = 80,
                 proxy_timeout_s: float = 5.0) -> str:
    """One ``server`` per service name (``server_name <service>.<domain>``… given as the
    keys' host), each proxying to an ``upstream`` pool of ``ip:port`` backends."""
    temp = run_dir / "nginx-temp"
    upstreams, servers = [], []
    for host, backends in sorted(pools.items()):
        service = host.split(".", 1)[0]
        pool = f"{namespace}-{service}-{port}"
        members = "".join(f"    server {b} max_fails=1 fail_timeout=10s;\n" for b in backends)
        upstreams.append(f"  upstream {pool} {{\n{members}  }}\n")
        servers.append(
            f"  server {{\n    listen {listen}:{port};\n    server_name {host};\n"
            f"    set $proxy_upstream_name \"{pool}\";\n"
            f"    set $proxy_alternative_upstream_name \"\";\n"
            f"    set $req_id $request_id;\n"
            f"    location / {{\n      proxy_pass http://{pool};\n"
            f"      proxy_connect_timeout {proxy_timeout_s:g}s;\n"
            f"      proxy_read_timeout {proxy_timeout_s * 6:g}s;\n"
            f"      proxy_next_upstream error timeout;\n    }}\n  }}\n")
    temps = "".join(f"  {kind}_temp_path {temp / kind};\n"
                    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return (f"user root;\nworker_processes 1;\npid {run_dir / 'nginx.pid'};\n"
            f"error_log {run_dir / 'nginx-error.log'} warn;\n"
            "events { worker_connections 512; }\n"
            "http {\n"
            f"  log_format upstreaminfo {LOG_FORMAT};\n"
            f"  access_log {access_log} upstreaminfo;\n"
            f"{temps}"
            "  server_tokens off;\n"
            + "".join(upstreams) + "".join(servers) + "}\n")


def start_nginx(ns: Namespace, run_dir: Path, access_log: Path,
                pools: dict[str, list[str]], port: int = 80):
    """nginx in ``ns`` answering ``pools`` (host -> backends) on ``ns.ip:port``."""
    (run_dir / "nginx-temp").mkdir(parents=True, exist_ok=True)
    conf = run_dir / "nginx.conf"
    conf.write_text(nginx_config(run_dir, access_log, ns.ip, pools, port=port),
                    encoding="utf-8")
    ns.exec(["nginx", "-t", "-q", "-c", str(conf), "-g", "daemon off;"])
    return ns.popen(["nginx", "-c", str(conf), "-g", "daemon off;"],
                    log=run_dir / "nginx.stderr")
