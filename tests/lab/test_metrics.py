"""Prometheus scrape config and node_exporter command the lab writes."""

import json

from rca.entities import entity_of
from rca.lab.metrics import COLLECTORS, node_exporter_command, prometheus_config


def test_every_lab_node_is_one_target_labelled_with_its_node_name():
    config = json.loads(prometheus_config({"infer-node": "10.213.1.3:9100",
                                           "dns-node": "10.213.1.2:9100"}, scrape_s=2))
    assert config["global"]["scrape_interval"] == "2s"
    (job,) = config["scrape_configs"]
    targets = {t["targets"][0]: t["labels"]["node"] for t in job["static_configs"]}
    assert targets == {"10.213.1.3:9100": "infer-node", "10.213.1.2:9100": "dns-node"}
    # the signals then name the entity by the lab node, as the kube objects do
    assert entity_of({"instance": "10.213.1.3:9100", "node": "infer-node"}) == "node/infer-node"


def test_node_exporter_listens_on_the_lab_address_with_the_collectors_signals_read():
    cmd = node_exporter_command("10.213.1.3:9100")
    assert "--web.listen-address=10.213.1.3:9100" in cmd
    assert "--collector.disable-defaults" in cmd
    for needed in ("netdev", "netclass", "conntrack"):  # network saturation, conntrack
        assert needed in COLLECTORS and f"--collector.{needed}" in cmd
