"""``deploy/``: every manifest parses, and the ClusterRole grants exactly the API calls the
code makes (derived from ``collectors.kube_api.RESOURCES``), nothing more."""

import shlex
from pathlib import Path

import pytest
import yaml

from collectors.kube_api import rbac_rules
from rca.cli import build_parser
from rca.config import load

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def documents():
    docs = []
    for path in sorted(DEPLOY.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            assert isinstance(doc, dict) and doc.get("kind") and doc.get("apiVersion"), path
            assert doc["metadata"].get("name"), path
            docs.append(doc)
    return docs


def of_kind(kind):
    return [d for d in documents() if d["kind"] == kind]


def pod_specs():
    """(owner name, pod spec) of the watcher Deployment and the daily CronJob."""
    (deployment,) = of_kind("Deployment")
    (cronjob,) = of_kind("CronJob")
    return [(deployment["metadata"]["name"], deployment["spec"]["template"]["spec"]),
            (cronjob["metadata"]["name"],
             cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"])]


def granted():
    (role,) = of_kind("ClusterRole")
    out: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        assert set(rule) == {"apiGroups", "resources", "verbs"}, rule  # no resourceNames etc.
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                out.setdefault((group, resource), set()).update(rule["verbs"])
    return out


def test_cluster_role_grants_exactly_what_the_code_calls():
    assert granted() == rbac_rules()


def test_cluster_role_is_read_only_and_never_reaches_secrets():
    rules = granted()
    assert set().union(*rules.values()) <= {"get", "list", "watch"}
    assert not any("*" in key or "*" in verbs for key, verbs in rules.items())
    assert not {r for _, r in rules} & {"secrets", "configmaps", "pods/exec", "pods/log"}


def test_binding_ties_the_role_to_the_service_account_the_pods_use():
    (binding,) = of_kind("ClusterRoleBinding")
    (role,) = of_kind("ClusterRole")
    (account,) = of_kind("ServiceAccount")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    (subject,) = binding["subjects"]
    assert (subject["kind"], subject["name"], subject["namespace"]) == (
        "ServiceAccount", account["metadata"]["name"], account["metadata"]["namespace"])
    for owner, spec in pod_specs():
        assert spec["serviceAccountName"] == account["metadata"]["name"], owner


def test_pods_mount_the_store_claim_and_the_config_that_exist():
    claims = {c["metadata"]["name"] for c in of_kind("PersistentVolumeClaim")}
    maps = {c["metadata"]["name"]: c for c in of_kind("ConfigMap")}
    for owner, spec in pod_specs():
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert volumes["store"]["persistentVolumeClaim"]["claimName"] in claims, owner
        assert volumes["config"]["configMap"]["name"] in maps, owner


@pytest.mark.parametrize("owner, subcommand", [("rca-watch", "watch"), ("rca-daily", "daily")])
def test_commands_parse_and_the_config_they_load_is_valid(owner, subcommand, tmp_path):
    spec = dict(pod_specs())[owner]
    (container,) = spec["containers"]
    argv = container["command"]
    assert argv[:2] == ["rca", subcommand]
    args = build_parser().parse_args(argv[1:])  # exits (fails the test) on a bad option
    (config_map,) = of_kind("ConfigMap")
    rc = tmp_path / "rca.yaml"
    rc.write_text(config_map["data"]["rca.yaml"])
    config = load(str(rc))
    assert args.config == "/etc/rca/rca.yaml"
    assert config.get("sources.kube.enabled") and config.get("sources.kube.in_cluster")
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert any(config.get("store").startswith(m + "/") for m in mounts), shlex.join(argv)


def test_watcher_is_a_single_writer():
    (deployment,) = of_kind("Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"]["type"] == "Recreate"
