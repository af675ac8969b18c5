"""kubefacts: quantities as Kubernetes writes them, and which controllers keep pods serving."""

import math

import pytest

from rca.kubefacts import node_allocatable, quantity, serving_owner
from tests.rca.kubeframes import node, objects


@pytest.mark.parametrize("text, value", [
    ("8", 8.0), ("16Gi", 16 * 2**30), ("500m", 0.5), ("1.5G", 1.5e9), ("128974848", 128974848.0),
    ("1e3", 1000.0),
])
def test_quantity(text, value):
    assert quantity(text) == pytest.approx(value)


def test_unreadable_quantity_is_nan():
    assert math.isnan(quantity("lots")) and math.isnan(quantity(None))


def test_node_allocatable_gpus():
    assert node_allocatable(objects([node("a", 8), node("b", 0)]), "nvidia.com/gpu") == {"a": 8.0}


@pytest.mark.parametrize("owner, serving", [
    ("ReplicaSet/web-7c9d8f", True), ("StatefulSet/db", True), ("DaemonSet/agent", True),
    ("Job/model-sync-2771", False), ("", False),
])
def test_serving_owner(owner, serving):
    assert serving_owner(owner) is serving
