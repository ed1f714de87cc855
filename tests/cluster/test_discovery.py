"""GPU discovery from node labels against kmock: the best node type, user values win, no permission."""

from __future__ import annotations

import pytest

from cluster_support import Fault, api_client
from gitops_sla.cluster.discovery import GpuInventory, discover_gpus, fill_hardware
from profiler.config import ProfileConfig
from profiler.engines.kube_api import Retry
from profiler.errors import ProfilingError

FAST = Retry(attempts=3, first_delay_s=0.01)


def node(kube, name: str, labels: dict[str, str]) -> None:
    kube.call(lambda km: km.put("v1/nodes", None, name, {"metadata": {"labels": labels}}))


def config(**hardware) -> ProfileConfig:
    return ProfileConfig.model_validate({"deployment": {"model": "Qwen/Qwen3-32B"}, "engine": {"backend": "vllm"},
                                         "hardware": {"enableGpuDiscovery": True, **hardware}})


def test_discovery_picks_the_node_type_with_most_gpus_and_fills_only_what_is_unset(kube):
    node(kube, "cpu-0", {"kubernetes.io/os": "linux"})
    node(kube, "a100-0", {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB", "nvidia.com/gpu.count": "4",
                          "nvidia.com/gpu.memory": "81920"})
    node(kube, "h200-0", {"nvidia.com/gpu.product": "NVIDIA-H200", "nvidia.com/gpu.count": "8",
                          "nvidia.com/gpu.memory": "143771"})
    node(kube, "h200-1", {"nvidia.com/gpu.product": "NVIDIA-H200", "nvidia.com/gpu.count": "4",
                          "nvidia.com/gpu.memory": "143771"})
    with api_client(kube) as api:
        inventory = discover_gpus(api, FAST)

    assert inventory == GpuInventory("NVIDIA-H200", 8, 143771)
    filled = fill_hardware(config(), inventory, system_named=False)
    assert (filled.hardware.num_gpus_per_node, filled.hardware.gpu_model, filled.hardware.gpu_vram_mib) == \
        (8, "NVIDIA-H200", 143771)
    assert filled.aic_system == "h200_sxm"
    mine = fill_hardware(config(numGpusPerNode=4, gpuVramMib=1000).model_copy(
        update={"sweep": config().sweep.model_copy(update={"aic_system": "h100_sxm"})}), inventory, system_named=True)
    assert (mine.hardware.num_gpus_per_node, mine.hardware.gpu_vram_mib, mine.aic_system) == (4, 1000, "h100_sxm")


def test_discovery_without_permission_names_the_fields_to_set(kube):
    kube.faults.append(Fault("list", "nodes", 403, times=5))
    with api_client(kube) as api, pytest.raises(ProfilingError) as failed:
        discover_gpus(api, FAST)
    message = str(failed.value)
    assert "403" in message and "hardware.numGpusPerNode" in message and "hardware.gpuVramMib" in message
    assert "nodes-read ClusterRole" in message
