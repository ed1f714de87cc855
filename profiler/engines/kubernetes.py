"""`kubernetes`: a temporary DynamoGraphDeployment per candidate mapping, as Dynamo's online profiler makes them.

For each mapping the provider renders an aggregated DGD from the request's base config (the frontend and the
decode worker with that mapping; the prefill worker and the planner left out), labelled with the request and
its spec hash, in the request's namespace, named `prof-<hash8>-<role>-<mapping>` (within Grove's 45
characters). It waits for the DGD's `Ready` condition (or `status.state: successful`) for at most
`ready-timeout` seconds, measures through its frontend Service (`<dgd>-frontend`: its cluster IP and port,
reachable from the profiling Job's pod), and deletes the DGD on every exit path. A run that crashed leaves
DGDs behind: the next start of the provider for the same request finds them by label and deletes them.

Options (`--engine-option KEY=VALUE`): `namespace` (required), `request`, `spec-hash` (labels; the reconciler's
Job passes them), `ready-timeout` (seconds, default 1800), `poll` (seconds, default 5), `tokenizer` (a local
tokenizer directory, also `--tokenizer`), `base-config` (a DGD file; default the request's `engine.config` when
it is a local file, else Dynamo's disagg.yaml for the backend).
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from profiler.config import ProfileConfig
from profiler.engines.kube_api import ClusterError, Retry, call, load_api_client
from profiler.engines.registry import ProviderOptions, register
from profiler.engines.types import EngineMapping, ServingEndpoint
from profiler.errors import ProfilingError
from profiler.render import args as A
from profiler.render.backends import apply_mapping, set_model
from profiler.render.dgd import DGD_API_VERSION, DGD_KIND, _services, _set_gpus, _worker_key, check_name_lengths
from profiler.render.model_cache import mount_v1alpha1, weights_dir

GROUP, VERSION, PLURAL = "nvidia.com", "v1alpha1", "dynamographdeployments"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_REQUEST = "gitops-sla.nvidia.com/request"
LABEL_SPEC_HASH = "gitops-sla.nvidia.com/spec-hash"
MANAGED_BY = "gitops-sla"
COMPONENT = "profiling-engine"
ANNOTATION_ENGINE = "gitops-sla.nvidia.com/engine"  # the mapping a temporary DGD serves (JSON), for people and tools
_DISAGG_SWITCHES = ("--is-decode-worker", "--is-prefill-worker")
_DISAGG_VALUED = ("--disaggregation-mode", "--disaggregation-transfer-backend", "--disaggregation-bootstrap-port")


def hash_label(spec_hash: str) -> str:
    """A spec hash as a label value (40 hex digits)."""
    return spec_hash.removeprefix("sha256:")[:40]


def temporary_name(run: str, mapping: EngineMapping) -> str:
    """`prof-<run8>-<p|d|a>-<tp2>`: short, so that Grove's limit leaves room for the worker's service name."""
    return f"prof-{run[:8]}-{mapping.role[0]}-{mapping.parallel.kind.lower()}{mapping.parallel.size}"


def temporary_dgd(base: dict[str, Any], config: ProfileConfig, mapping: EngineMapping, *, name: str,
                  namespace: str, labels: dict[str, str], gpus_per_node: int) -> dict[str, Any]:
    """The aggregated DGD that serves `mapping`: the base's frontend and decode worker (with the model and the
    mapping's parallel flags and GPUs), without its prefill worker and planner."""
    services = _services(base)
    backend = config.engine.backend
    worker_key = _worker_key(services, backend, "decode")
    prefill_key = _worker_key(services, backend, "prefill")
    kept: dict[str, Any] = {}
    for key, service in services.items():
        kind = (service or {}).get("componentType")
        if key == prefill_key or kind == "planner":
            continue
        kept[key] = copy.deepcopy(service)
    worker = kept[worker_key]
    container = worker.get("extraPodSpec", {}).get("mainContainer")
    if not isinstance(container, dict) or "args" not in container:
        raise ProfilingError(f"base config service '{worker_key}' has no extraPodSpec.mainContainer.args; the "
                             "worker's engine arguments must be there")
    cache = config.deployment.model_cache
    weights = weights_dir(cache) if cache.pvc_name else None
    worker_args = set_model(backend, A.as_list(container["args"]), config.deployment.model, False, weights)
    for switch in _DISAGG_SWITCHES:  # one aggregated engine serves the whole request
        worker_args = A.remove_switch(worker_args, switch)
    for flag in _DISAGG_VALUED:
        worker_args = A.remove_valued(worker_args, flag)
    container["args"] = apply_mapping(backend, worker_args, mapping.parallel)
    worker.pop("subComponentType", None)
    worker["replicas"] = 1
    _set_gpus(worker, mapping.num_gpus, gpus_per_node)
    if config.deployment.dgd_image:
        for service in kept.values():
            container = service.setdefault("extraPodSpec", {}).setdefault("mainContainer", {})
            container["image"] = config.deployment.dgd_image
    dgd = {
        "apiVersion": DGD_API_VERSION,
        "kind": DGD_KIND,
        "metadata": {"name": name, "namespace": namespace,
                     "labels": {**labels, LABEL_COMPONENT: COMPONENT},
                     "annotations": {ANNOTATION_ENGINE: json.dumps(
                         {"role": mapping.role, "tp": mapping.tp, "ep": mapping.ep, "dp": mapping.dp,
                          "backend": mapping.backend, "model": mapping.model}, sort_keys=True)}},
        "spec": {**{k: v for k, v in base["spec"].items() if k != "services"}, "services": kept},
    }
    if weights:
        frontends = [k for k, s in kept.items() if (s or {}).get("componentType") == "frontend"]
        mount_v1alpha1(dgd["spec"], kept, [*frontends, worker_key], cache)
    check_name_lengths(dgd)
    return dgd


@dataclass
class KubernetesProvider:
    """Temporary DGDs on a cluster, one per acquired mapping, deleted on every path."""

    api: client.ApiClient
    namespace: str
    labels: dict[str, str]
    run: str  # the spec hash's hex (names and the leftover label)
    base: dict[str, Any]
    config: ProfileConfig
    tokenizer_dir: Path
    ready_timeout_s: float = 1800.0
    poll_s: float = 5.0
    gpus_per_node: int = 8
    retry: Retry = field(default_factory=Retry)
    name: str = "kubernetes"

    def __post_init__(self) -> None:
        self.objects = client.CustomObjectsApi(self.api)
        self.core = client.CoreV1Api(self.api)
        self.remove_leftovers()

    @property
    def fixed_mapping(self) -> EngineMapping | None:
        return None

    @contextmanager
    def acquire(self, mapping: EngineMapping) -> Iterator[ServingEndpoint]:
        name = temporary_name(self.run, mapping)
        dgd = temporary_dgd(self.base, self.config, mapping, name=name, namespace=self.namespace,
                            labels=self.labels, gpus_per_node=self.gpus_per_node)
        self._create(dgd)
        try:
            self._wait_ready(name, mapping)
            url = self._frontend_url(name)
            yield ServingEndpoint(url=url, model=mapping.model, tokenizer_dir=self.tokenizer_dir,
                                  metrics_url=f"{url}/metrics")
        finally:
            self._delete(name)

    def remove_leftovers(self) -> list[str]:
        """Delete this run's temporary DGDs that a crashed earlier attempt left (found by label)."""
        selector = ",".join(f"{key}={value}" for key, value in self.labels.items())
        found = self._call("list temporary DGDs", lambda: self.objects.list_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, label_selector=selector))
        names = [item["metadata"]["name"] for item in found.get("items", [])
                 if _labelled(item, {**self.labels, LABEL_COMPONENT: COMPONENT})]
        for name in names:
            self._delete(name)
        return names

    # ------------------------------------------------------------------------------------------------ steps

    def _create(self, dgd: dict[str, Any]) -> None:
        name = dgd["metadata"]["name"]
        for _ in range(2):
            try:
                call(f"create DGD {self.namespace}/{name}", lambda: self.objects.create_namespaced_custom_object(
                    GROUP, VERSION, self.namespace, PLURAL, dgd), self.retry, retry_conflict=False)
                return
            except ApiException as exc:
                if exc.status != 409:
                    raise ProfilingError(f"cannot create the temporary DGD {self.namespace}/{name}: {exc.status} "
                                         f"{exc.reason}") from None
                self._delete(name)  # an earlier attempt's, not found by label (labels edited): start clean
            except ClusterError as exc:
                raise ProfilingError(str(exc)) from None
        raise ProfilingError(f"the temporary DGD {self.namespace}/{name} exists and could not be replaced")

    def _wait_ready(self, name: str, mapping: EngineMapping) -> None:
        deadline = time.monotonic() + self.ready_timeout_s
        while True:
            dgd = self._call(f"read DGD {self.namespace}/{name}", lambda: self.objects.get_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURAL, name))
            state, message = _readiness(dgd)
            if state == "ready":
                return
            if state == "failed":
                raise ProfilingError(f"the temporary DGD {self.namespace}/{name} for {mapping.describe()} failed: "
                                     f"{message}")
            if time.monotonic() >= deadline:
                raise ProfilingError(
                    f"the temporary DGD {self.namespace}/{name} for {mapping.describe()} did not become Ready within "
                    f"{self.ready_timeout_s:.0f} s ({message or 'no status'}); check its pods (GPUs free? image "
                    "pulled?) or raise --engine-option ready-timeout=SECONDS")
            time.sleep(self.poll_s)

    def _frontend_url(self, name: str) -> str:
        service_name = f"{name}-frontend"
        service = self._call(f"read Service {self.namespace}/{service_name}",
                             lambda: self.core.read_namespaced_service(service_name, self.namespace))
        ports = service.spec.ports or []
        port = next((p.port for p in ports if p.name in ("http", "frontend")), ports[0].port if ports else 8000)
        host = service.spec.cluster_ip
        if not host or host == "None":
            host = f"{service_name}.{self.namespace}.svc.cluster.local"
        return f"http://{host}:{port}"

    def _delete(self, name: str) -> None:
        try:
            call(f"delete DGD {self.namespace}/{name}", lambda: self.objects.delete_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURAL, name), self.retry)
        except ApiException as exc:
            if exc.status != 404:
                raise ProfilingError(f"cannot delete the temporary DGD {self.namespace}/{name}: {exc.status} "
                                     f"{exc.reason}; delete it by hand (label {LABEL_SPEC_HASH}={self.run})") from None
        except ClusterError as exc:
            raise ProfilingError(f"{exc}; delete the temporary DGD {self.namespace}/{name} by hand") from None

    def _call(self, what: str, fn):
        try:
            return call(what, fn, self.retry)
        except ApiException as exc:
            raise ProfilingError(f"{what}: the API server answered {exc.status} {exc.reason}") from None
        except ClusterError as exc:
            raise ProfilingError(str(exc)) from None


def _labelled(item: dict[str, Any], labels: dict[str, str]) -> bool:
    """Does the object carry all `labels`? (Some API servers, and kmock, ignore a list's label selector.)"""
    have = (item.get("metadata") or {}).get("labels") or {}
    return all(have.get(key) == value for key, value in labels.items())


def _readiness(dgd: dict[str, Any]) -> tuple[str, str]:
    """`ready`, `failed` or `pending`, and a message: the `Ready` condition, else Dynamo's `status.state`."""
    status = dgd.get("status") or {}
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    state = str(status.get("state") or "").lower()
    message = (ready or {}).get("message") or (ready or {}).get("reason") or state
    if (ready and ready.get("status") == "True") or state in ("successful", "ready"):
        return "ready", message
    if state == "failed":
        return "failed", message or "status.state is failed"
    return "pending", message


def _factory(options: ProviderOptions, config: ProfileConfig) -> KubernetesProvider:
    extra = dict(options.extra)
    namespace = extra.get("namespace") or config.deployment.namespace
    if not namespace:
        raise ProfilingError("the kubernetes provider needs the namespace for temporary DGDs "
                             "(--engine-option namespace=NS)")
    tokenizer = Path(extra["tokenizer"]) if extra.get("tokenizer") else options.tokenizer_dir
    if tokenizer is None or not (tokenizer / "tokenizer_config.json").is_file():
        raise ProfilingError(f"tokenizer {tokenizer}: give a local tokenizer directory (--tokenizer DIR or "
                             "--engine-option tokenizer=DIR, with tokenizer_config.json); the profiler never "
                             "downloads one")
    spec_hash = extra.get("spec-hash") or hashlib.sha256(config.model_dump_json().encode()).hexdigest()
    request = (extra.get("request") or "profile")[:63].rstrip("-._")
    labels = {LABEL_MANAGED_BY: MANAGED_BY, LABEL_REQUEST: request, LABEL_SPEC_HASH: hash_label(spec_hash)}
    try:
        return KubernetesProvider(
            api=load_api_client(), namespace=namespace, labels=labels, run=hash_label(spec_hash),
            base=_base_config(extra.get("base-config"), config), config=config, tokenizer_dir=tokenizer,
            ready_timeout_s=float(extra.get("ready-timeout", 1800)), poll_s=float(extra.get("poll", 5)),
            gpus_per_node=config.hardware.num_gpus_per_node or 8)
    except ValueError as exc:
        raise ProfilingError(f"kubernetes provider options: {exc}") from None
    except ClusterError as exc:
        raise ProfilingError(str(exc)) from None


def _base_config(path: str | None, config: ProfileConfig) -> dict[str, Any]:
    candidate = path or config.engine.config
    if candidate and Path(candidate).is_file():
        document = yaml.safe_load(Path(candidate).read_text())
        if not isinstance(document, dict):
            raise ProfilingError(f"{candidate}: the base config must be a DynamoGraphDeployment mapping")
        return document
    if path:
        raise ProfilingError(f"--engine-option base-config={path}: no such file")
    from profiler.pipeline import _vendored_base

    return copy.deepcopy(_vendored_base(config.engine.backend))


register("kubernetes", _factory)
