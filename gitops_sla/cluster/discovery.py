"""GPU discovery from the nodes' labels, as Dynamo's profiler does (`deploy/utils/gpu_inventory.py`).

GPU Feature Discovery labels every GPU node with `nvidia.com/gpu.product` (e.g. `NVIDIA-H200`),
`nvidia.com/gpu.count` and `nvidia.com/gpu.memory` (MiB). Nodes are grouped by (product, memory); the group
with the most GPUs per node wins, ties broken by memory. A request that enables discovery
(`spec.enableGpuDiscovery` or `hardware.enableGpuDiscovery`) gets what it leaves out filled in — GPUs per node,
GPU model and memory, and the AI Configurator system for that GPU (over the repository's default) — while every
value it sets wins; the GPU range per engine then follows from GPUs per node and the model's size. Without
permission to list nodes the request fails naming the fields to set.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from gitops_sla.reconcile.profiling import BackendUnavailable, ProfileJob, ProfileOutput, ProfilingBackend, Running
from profiler.engines.kube_api import ClusterError, Retry, call, forbidden
from profiler.config import ProfileConfig
from profiler.errors import ProfilingError

LABEL_PRODUCT = "nvidia.com/gpu.product"
LABEL_COUNT = "nvidia.com/gpu.count"
LABEL_MEMORY = "nvidia.com/gpu.memory"
MANUAL_FIELDS = "hardware.numGpusPerNode, hardware.gpuModel, hardware.gpuVramMib (and sweep.aicSystem)"

# GPU products (GFD's label, normalised) to AI Configurator systems.
_AIC_SYSTEMS = (
    (re.compile(r"GB200"), "gb200_sxm"),
    (re.compile(r"B200"), "b200_sxm"),
    (re.compile(r"H200"), "h200_sxm"),
    (re.compile(r"H100"), "h100_sxm"),
    (re.compile(r"A100"), "a100_sxm"),
    (re.compile(r"L40S"), "l40s"),
)


@dataclass(frozen=True)
class GpuInventory:
    """The cluster's best GPU node type."""

    product: str
    gpus_per_node: int
    memory_mib: int | None

    @property
    def aic_system(self) -> str | None:
        """AI Configurator's system for this GPU, when it has one."""
        upper = self.product.upper()
        return next((system for pattern, system in _AIC_SYSTEMS if pattern.search(upper)), None)


def discover_gpus(api: client.ApiClient, retry: Retry = Retry()) -> GpuInventory | None:
    """The best GPU node type among the nodes' labels; None when no node has GPU labels. Raises
    `ProfilingError` without permission to list nodes."""
    core = client.CoreV1Api(api)
    try:
        nodes = call("list nodes", lambda: core.list_node(), retry)
    except ApiException as exc:
        if forbidden(exc):
            raise ProfilingError(
                f"GPU discovery cannot list the cluster's nodes ({exc.status} {exc.reason}): set {MANUAL_FIELDS} in "
                "the request's profilingConfig.config, or grant the reconciler the optional nodes-read ClusterRole "
                "(deploy/components/online-profiling, gpu-discovery)") from None
        raise
    groups: dict[tuple[str, int | None], int] = {}
    for node in nodes.items:
        labels = node.metadata.labels or {}
        product, count = labels.get(LABEL_PRODUCT), _int(labels.get(LABEL_COUNT))
        if not product or not count:
            continue
        key = (product, _int(labels.get(LABEL_MEMORY)))
        groups[key] = max(groups.get(key, 0), count)
    if not groups:
        return None
    (product, memory), count = max(groups.items(), key=lambda item: (item[1], item[0][1] or 0))
    return GpuInventory(product, count, memory)


def fill_hardware(config: ProfileConfig, inventory: GpuInventory, *, system_named: bool) -> ProfileConfig:
    """`config` with what it leaves out taken from `inventory`; a value the request sets always wins
    (`system_named`: the request itself names an AI Configurator system, not just the repository's default).
    The GPU range per engine, when unset, then follows from GPUs per node and the model's size, as in Dynamo."""
    hardware = config.hardware
    updates: dict[str, object] = {}
    if not hardware.num_gpus_per_node:
        updates["num_gpus_per_node"] = inventory.gpus_per_node
    if not hardware.gpu_model:
        updates["gpu_model"] = inventory.product
    if not hardware.gpu_vram_mib and inventory.memory_mib:
        updates["gpu_vram_mib"] = inventory.memory_mib
    result = config.model_copy(update={"hardware": hardware.model_copy(update=updates)})
    if not system_named and inventory.aic_system:
        sweep = config.sweep.model_copy(update={"aic_system": inventory.aic_system})
        result = result.model_copy(update={"sweep": sweep})
    return result


class DiscoveringBackend:
    """Fills the hardware of requests that enable GPU discovery from the nodes' labels, then profiles with
    `inner`. The inventory is read once per process (nodes change rarely; restart to re-read)."""

    def __init__(self, inner: ProfilingBackend, api: client.ApiClient, retry: Retry = Retry()):
        self.inner = inner
        self.api = api
        self.retry = retry
        self.version = inner.version
        self._inventory: GpuInventory | None = None

    def run(self, job: ProfileJob) -> ProfileOutput | Running:
        if job.config.hardware.enable_gpu_discovery:
            named = job.request.config.aic_system is not None
            job = dataclasses.replace(job, config=fill_hardware(job.config, self._discover(), system_named=named))
        return self.inner.run(job)

    def forget(self, namespace: str, name: str) -> None:
        self.inner.forget(namespace, name)

    def _discover(self) -> GpuInventory:
        if self._inventory is None:
            try:
                found = discover_gpus(self.api, self.retry)
            except ClusterError as exc:
                raise BackendUnavailable(f"GPU discovery: {exc}") from None
            if found is None:
                raise ProfilingError(f"GPU discovery found no node labelled {LABEL_PRODUCT} and {LABEL_COUNT} (is "
                                     f"NVIDIA GPU Feature Discovery installed?); set {MANUAL_FIELDS} in the request")
            self._inventory = found
        return self._inventory


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None
