"""The lab DNS: hosts file, resolver config, dnsmasq command, CRI stamping."""

from datetime import UTC, datetime

from collectors.base import ParseContext
from collectors.logs import dnsmasq
from rca.lab.dns import cri_line, dnsmasq_command, hosts_file, resolv_conf
from rca.timeutil import get_zone


def test_hosts_file_lists_each_name_once():
    text = hosts_file({"feet.infer.lab": "10.213.1.5", "interior.infer.lab": "10.213.1.6"})
    assert text == "10.213.1.5 feet.infer.lab\n10.213.1.6 interior.infer.lab\n"


def test_resolv_conf_uses_glibc_defaults_unless_use_vc():
    assert resolv_conf("10.213.1.2") == "nameserver 10.213.1.2\n"  # timeout:5 attempts:2
    assert resolv_conf("10.213.1.2", use_vc=True).endswith("options use-vc\n")


def test_dnsmasq_never_forwards_and_logs_the_asking_socket(tmp_path):
    cmd = dnsmasq_command("10.213.1.2", tmp_path / "hosts")
    assert "--no-resolv" in cmd and "--no-hosts" in cmd  # nothing leaves the machine
    assert "--log-queries=extra" in cmd and "--log-facility=-" in cmd
    assert "--listen-address=10.213.1.2" in cmd and "--bind-interfaces" in cmd


def test_stamped_line_is_what_the_dnsmasq_reader_reads():
    when = datetime(2026, 11, 30, 23, 39, 7, 191344, tzinfo=UTC)
    line = cri_line("dnsmasq[9]: 4 10.213.1.4/5390 query[A] feet.infer.lab from 10.213.1.4\n",
                    when)
    assert line.startswith("2026-11-30T23:39:07.191344000Z stderr F dnsmasq[9]:")
    ((_, row),) = dnsmasq.parse(line.rstrip("\n"), ParseContext("d", get_zone("UTC")))
    assert row["time"] == when and row["client_port"] == 5390
