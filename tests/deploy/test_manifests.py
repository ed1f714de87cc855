"""deploy/: rendered with `kubectl kustomize` and checked against Kubernetes' own schemas (kubernetes-validate,
strict: unknown fields fail), plus what a schema cannot say: the Deployment's arguments parse with the real CLI,
its probes, ports, volumes and Secrets line up, and the RBAC allows exactly the API calls the reconciler makes
(recorded from the lease, leader-label and readiness adapters against kmock)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from gitops_sla.cli import build_parser
from gitops_sla.cluster.client import api_client
from gitops_sla.cluster.leader_label import LEADER_LABEL, LeaderPodLabel
from gitops_sla.cluster.lease import LeaderElector, LeaseSettings
from gitops_sla.cluster.readiness import KubeDeploymentReader
from gitops_sla.commands.reconcile import ENV_WEBHOOK_SECRET
from gitops_sla.forge.base import ENV_API_URL as ENV_FORGE_API_URL
from gitops_sla.forge.base import ENV_KIND as ENV_FORGE_KIND
from gitops_sla.forge.base import ENV_TOKEN as ENV_FORGE_TOKEN
from gitops_sla.git.auth import ENV_KNOWN_HOSTS_FILE, ENV_SSH_KEY_FILE
from gitops_sla.git.auth import ENV_TOKEN_FILE as ENV_GIT_TOKEN_FILE

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S_VERSION = "1.32.0"
KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is installed by scripts/run-tests")
# Custom resources kubernetes-validate has no schema for; each is checked by hand below.
CUSTOM_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor")}


def render(folder: Path, *, outside: bool = False) -> list[dict]:
    """`kubectl kustomize folder`; `outside`: the folder is not under deploy/ but refers into it."""
    extra = ["--load-restrictor", "LoadRestrictionsNone"] if outside else []
    done = subprocess.run([KUBECTL, "kustomize", *extra, str(folder)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def find(docs: list[dict], kind: str, name: str | None = None) -> dict:
    [found] = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    return found


def validate(docs: list[dict]) -> None:
    for doc in docs:
        if (doc["apiVersion"], doc["kind"]) in CUSTOM_KINDS:
            continue
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


@pytest.fixture(scope="module")
def overlays() -> dict[str, list[dict]]:
    return {name: render(DEPLOY / "overlays" / name) for name in ("argocd", "flux")}


def test_every_folder_renders_and_validates(tmp_path, overlays):
    validate(render(DEPLOY / "base"))
    for docs in overlays.values():
        validate(docs)
    # planner patch mode: a component on top of the base
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "resources": [os.path.relpath(DEPLOY / "base", tmp_path)],
        "components": [os.path.relpath(DEPLOY / "components" / "planner-patch-mode", tmp_path)]}))
    docs = render(tmp_path, outside=True)
    validate(docs)
    rules = find(docs, "ClusterRole", "gitops-sla-planner-patch")["rules"]
    assert {r for rule in rules for r in rule["resources"]} == \
        {"dynamographdeployments", "dynamographdeploymentscalingadapters/scale"}


def test_the_git_ssh_component_mounts_the_key_and_known_hosts(tmp_path):
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "resources": [os.path.relpath(DEPLOY / "base", tmp_path)],
        "components": [os.path.relpath(DEPLOY / "components" / "git-ssh", tmp_path)]}))
    docs = render(tmp_path, outside=True)
    validate(docs)
    pod = find(docs, "Deployment", "gitops-sla-reconciler")["spec"]["template"]["spec"]
    [container] = pod["containers"]
    env = {e["name"]: e for e in container["env"]}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    key, known = Path(env[ENV_SSH_KEY_FILE]["value"]), Path(env[ENV_KNOWN_HOSTS_FILE]["value"])
    mount = mounts[str(key.parent)]
    assert key.parent == known.parent and mount["readOnly"]
    secret = volumes[mount["name"]]["secret"]
    assert secret["secretName"] == "gitops-sla-git-ssh" and secret["items"] == [
        {"key": "ssh-privatekey", "path": key.name}, {"key": "known_hosts", "path": known.name}]
    assert volumes["git-token"]["secret"]["optional"] is True  # the HTTP token is not needed over SSH


def test_the_schema_check_catches_a_misspelled_field(overlays):
    deployment = find(overlays["argocd"], "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"]["readOnlyRootFileSystem"] = True  # the real field is readOnlyRootFilesystem
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


def _container(docs: list[dict]) -> dict:
    return find(docs, "Deployment", "gitops-sla-reconciler")["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize("overlay", ["argocd", "flux"])
def test_the_reconciler_deployment_is_consistent(overlays, overlay):
    docs = overlays[overlay]
    deployment = find(docs, "Deployment", "gitops-sla-reconciler")
    pod = deployment["spec"]["template"]["spec"]
    container = _container(docs)
    assert deployment["spec"]["replicas"] >= 2
    budget = find(docs, "PodDisruptionBudget")
    assert budget["spec"]["maxUnavailable"] == 1
    assert budget["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    # the arguments parse with the real CLI once Kubernetes has expanded $(VAR) from the env
    config = find(docs, "ConfigMap")["data"]
    values = {"GITOPS_SLA_REPO": config["repo"], "GITOPS_SLA_BRANCH": config["branch"],
              "GITOPS_SLA_INTERVAL": config["interval"], "POD_NAMESPACE": deployment["metadata"]["namespace"]}
    args = container["args"]
    for name, value in values.items():
        args = [a.replace(f"$({name})", value) for a in args]
    parsed = build_parser().parse_args(args)
    assert parsed.watch and parsed.leader_elect and parsed.track_deployments and parsed.background_profiling
    assert parsed.lease == "gitops-sla/gitops-sla-reconciler"
    env = {e["name"]: e for e in container["env"]}
    assert all(e["valueFrom"]["configMapKeyRef"]["name"] == find(docs, "ConfigMap")["metadata"]["name"]
               for e in env.values() if "configMapKeyRef" in e.get("valueFrom", {}))
    # probes on /healthz of the named port the Service targets; /metrics on the same port
    port = container["ports"][0]
    assert (port["name"], port["containerPort"]) == ("http", int(parsed.listen.rpartition(":")[2]))
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
    # webhooks go to the leader's pod only (the label its elector sets), /metrics is scraped from every replica
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert LEADER_LABEL not in pod_labels  # set by the leader at run time, never by the template
    webhooks = find(docs, "Service", "gitops-sla-reconciler")
    metrics = find(docs, "Service", "gitops-sla-reconciler-metrics")
    assert webhooks["spec"]["selector"] == {**deployment["spec"]["selector"]["matchLabels"], LEADER_LABEL: "true"}
    assert metrics["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    for service in (webhooks, metrics):
        assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]
    monitor = find(docs, "ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["port"] == metrics["spec"]["ports"][0]["name"]
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    selects = monitor["spec"]["selector"]["matchLabels"].items()
    assert selects <= metrics["metadata"]["labels"].items()
    assert not selects <= webhooks["metadata"]["labels"].items()  # else the leader is scraped twice
    # non-root, read-only root filesystem; the caches and /tmp are writable volumes
    assert pod["securityContext"]["runAsNonRoot"] and container["securityContext"]["readOnlyRootFilesystem"]
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    for path in (parsed.cache_dir, parsed.profile_cache, Path(env["MPLCONFIGDIR"]["value"])):
        mount = next(m for p, m in mounts.items() if Path(path).is_relative_to(p))
        assert "emptyDir" in volumes[mount["name"]] and not mount.get("readOnly")
    assert container["resources"]["requests"]["cpu"] and container["resources"]["requests"]["memory"]
    # credentials: the Git token as a file from its Secret, the optional ones from optional Secrets
    token_file = Path(env[ENV_GIT_TOKEN_FILE]["value"])
    mount = mounts[str(token_file.parent)]
    assert volumes[mount["name"]]["secret"]["items"] == [{"key": "token", "path": token_file.name}]
    for name in (ENV_FORGE_TOKEN, ENV_WEBHOOK_SECRET):
        assert env[name]["valueFrom"]["secretKeyRef"]["optional"] is True
    for name in (ENV_FORGE_KIND, ENV_FORGE_API_URL):  # GitLab, Gitea: the ConfigMap's optional keys
        assert env[name]["valueFrom"]["configMapKeyRef"]["optional"] is True
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"


def _allowed(docs: list[dict], namespace: str, verb: str, group: str, resource: str, name: str | None) -> bool:
    """Whether the rendered RBAC lets the reconciler's ServiceAccount do this (Kubernetes' rule matching)."""
    account = find(docs, "ServiceAccount", "gitops-sla-reconciler")
    roles = {(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]): d for d in docs
             if d["kind"] in ("Role", "ClusterRole")}
    for binding in (d for d in docs if d["kind"] in ("RoleBinding", "ClusterRoleBinding")):
        if not any(s["kind"] == "ServiceAccount" and s["name"] == account["metadata"]["name"]
                   and s.get("namespace", binding["metadata"].get("namespace")) == account["metadata"]["namespace"]
                   for s in binding["subjects"]):
            continue
        if binding["kind"] == "RoleBinding" and binding["metadata"]["namespace"] != namespace:
            continue
        ref = binding["roleRef"]
        role = roles.get((ref["kind"], binding["metadata"].get("namespace") if ref["kind"] == "Role" else None,
                          ref["name"]))
        for rule in (role or {}).get("rules", []):
            if group in rule["apiGroups"] and resource in rule["resources"] and verb in rule["verbs"] and \
                    (not rule.get("resourceNames") or name in rule["resourceNames"]):
                return True
    return False


def test_rbac_allows_exactly_what_the_reconciler_calls(overlays, kube, tmp_path):
    """Run the real adapters against kmock, then check each recorded API call against the rendered RBAC."""
    docs = overlays["argocd"]
    namespace = find(docs, "Deployment")["metadata"]["namespace"]
    api = api_client(kube.kubeconfig(tmp_path / "kubeconfig"))
    kube.call(lambda km: km.put("v1/pods", namespace, "pod-a", {"apiVersion": "v1", "kind": "Pod"}))
    elector = LeaderElector(api, LeaseSettings(name="gitops-sla-reconciler", namespace=namespace, identity="pod-a",
                                               lease_duration_s=3, renew_deadline_s=2, retry_period_s=0.5),
                            pod_label=LeaderPodLabel(api, namespace, "pod-a"))
    assert elector.try_acquire_or_renew() and elector.try_acquire_or_renew()  # create, then get + patch
    assert elector.pod_label.sync(True)
    elector.stop()  # release the Lease, remove the label
    KubeDeploymentReader(api).read("team-a", "llm")  # get a DGD in a request's namespace
    calls = set()
    for request in kube.call(lambda km: list(km)):
        # api/v1/namespaces/<ns>/<plural>[/<name>] or apis/<group>/<version>/namespaces/<ns>/<plural>[/<name>]
        parts = request.url.path.strip("/").split("/")
        group, rest = ("", parts[2:]) if parts[0] == "api" else (parts[1], parts[3:])
        if len(rest) < 3 or rest[0] != "namespaces":
            continue
        verb = {"GET": "get", "POST": "create", "PATCH": "patch"}[request.method]
        calls.add((rest[1], verb, group, rest[2], rest[3] if len(rest) > 3 else None))
    assert calls == {
        (namespace, "create", "coordination.k8s.io", "leases", None),
        (namespace, "get", "coordination.k8s.io", "leases", "gitops-sla-reconciler"),
        (namespace, "patch", "coordination.k8s.io", "leases", "gitops-sla-reconciler"),
        (namespace, "patch", "", "pods", "pod-a"),
        ("team-a", "get", "nvidia.com", "dynamographdeployments", "llm"),
    }
    for ns, verb, group, resource, name in calls:
        assert _allowed(docs, ns, verb, group, resource, name), (verb, resource, ns)
    # least privilege: nothing else, e.g. no writes to DGDs, no Secrets, no leases of other names
    assert not _allowed(docs, "team-a", "patch", "nvidia.com", "dynamographdeployments", "llm")
    assert not _allowed(docs, namespace, "get", "", "secrets", "gitops-sla-git")
    assert not _allowed(docs, namespace, "patch", "coordination.k8s.io", "leases", "someone-else")
    assert not _allowed(docs, "team-a", "get", "coordination.k8s.io", "leases", "gitops-sla-reconciler")
    assert not _allowed(docs, "team-a", "patch", "", "pods", "pod-a")  # pods of its own namespace only
    for verb in ("get", "list", "create", "delete", "update"):
        assert not _allowed(docs, namespace, verb, "", "pods", "pod-a"), verb


def test_install_objects_point_at_the_overlays():
    """The Argo CD Application and the Flux Kustomization that install the reconciler name existing overlays."""
    application = yaml.safe_load((DEPLOY / "overlays/argocd/argocd-application.yaml").read_text())
    assert (ROOT / application["spec"]["source"]["path"]).is_dir()
    flux = list(yaml.safe_load_all((DEPLOY / "overlays/flux/flux-sync.yaml").read_text()))
    kustomization = find(flux, "Kustomization")
    assert (ROOT / kustomization["spec"]["path"]).is_dir()
    assert kustomization["spec"]["sourceRef"]["name"] == find(flux, "GitRepository")["metadata"]["name"]
