"""Fixtures of the live Kubernetes tests: a stand-in API server over HTTPS on 127.0.0.1
serving the recorded objects of ``tests/data/kube``, and a kubeconfig pointing at it."""

from pathlib import Path

import pytest

from tests.collectors.kube_api_server import (
    TOKEN,
    FakeApiServer,
    kubeconfig_text,
    make_certificate,
    serve_fixtures,
)

KUBE_DATA = Path(__file__).resolve().parents[1] / "data" / "kube"


@pytest.fixture(scope="session")
def kube_cert(tmp_path_factory):
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def api(kube_cert):
    """Started per test (tests turn its knobs), stopped by the context manager."""
    with FakeApiServer(*kube_cert) as server:
        serve_fixtures(server, KUBE_DATA)
        yield server


@pytest.fixture
def kubeconfig(api, kube_cert, tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text(kubeconfig_text(api.url, TOKEN, kube_cert[0]))
    return path
