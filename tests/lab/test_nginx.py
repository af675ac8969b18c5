"""The nginx config the lab writes: defaults kept, ingress-nginx log format, real nginx -t."""

import os
import shutil
import subprocess
from datetime import UTC, datetime

import pytest

from collectors.base import ParseContext
from collectors.logs import ingress_nginx
from rca.lab.nginx import nginx_config
from rca.timeutil import get_zone

POOLS = {"feet.infer.lab": ["10.213.1.5:8080", "10.213.1.6:8080"]}


def test_body_limit_stays_nginx_default_and_pools_are_upstreams(tmp_path):
    conf = nginx_config(tmp_path, tmp_path / "access.log", "10.213.1.3", POOLS)
    assert "client_max_body_size" not in conf  # the 1m default is the fault
    assert "upstream lab-feet-80 {" in conf
    assert conf.count("server 10.213.1.") == 2
    assert "listen 10.213.1.3:80;" in conf and "server_name feet.infer.lab;" in conf
    assert f"pid {tmp_path / 'nginx.pid'};" in conf  # nothing outside the run dir


def test_a_line_in_the_written_format_is_read_by_the_ingress_nginx_reader():
    # what nginx wrote in a lab run for a refused upload, upstream fields '-'
    line = ('10.213.1.4 - - [30/Nov/2026:23:43:40 +0000] "POST /infer HTTP/1.1" 413 176 "-" '
            '"-" 174 0.003 [lab-interior-80] [] - - - - a02e238634509061fdc4cec7bfc41cd8')
    assert ingress_nginx.sniff(line)
    ((_, row),) = ingress_nginx.parse(line, ParseContext("a", get_zone("UTC")))
    assert row["status"] == "413" and row["upstream"] == "" and row["service"] == "lab-interior"
    assert row["time"] == datetime(2026, 11, 30, 23, 43, 40, tzinfo=UTC)


@pytest.mark.skipif(shutil.which("nginx") is None or os.geteuid() != 0,
                    reason="needs Debian's nginx and root (the config runs workers as root)")
def test_real_nginx_accepts_the_config(tmp_path):
    (tmp_path / "nginx-temp").mkdir()
    conf = tmp_path / "nginx.conf"
    conf.write_text(nginx_config(tmp_path, tmp_path / "access.log", "127.0.0.1", POOLS,
                                 port=1))
    proc = subprocess.run(["nginx", "-t", "-c", str(conf), "-g", "daemon off;"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
