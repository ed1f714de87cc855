"""The request's model cache (`deployment.modelCache` in v1alpha1, `spec.modelCache` in v1beta1): a PVC holding
the weights, mounted into the workers and the frontend, the workers reading the weights from it and serving them
under the request's model name (what Dynamo's profilers render: 0.8's `update_model` with a PVC, 1.x's generator
with `k8s_pvc_name`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from profiler.config import ModelCacheConfig

def weights_dir(cache: ModelCacheConfig) -> str:
    """Where the weights are in the container: the PVC path under the mount, Dynamo 1.6.1's rule
    (`normalize_model_cache_path`): a leading slash is PVC-relative unless the path already begins with the
    mount path."""
    mount = cache.mount_path.rstrip("/")
    path = cache.pvc_path.strip().rstrip("/")
    if not path:
        return mount
    if mount and (path == mount or path.startswith(f"{mount}/")):
        return path
    inner = path.lstrip("/")
    return f"{mount}/{inner}" if inner else mount


def mount_v1alpha1(spec: dict[str, Any], services: dict[str, Any], keys: Iterable[str], cache: ModelCacheConfig) -> None:
    """A v1alpha1 DGD mounts the PVC its own way: `spec.pvcs` names it (not created), each service in `keys` a
    `volumeMounts` entry at the mount path."""
    spec["pvcs"] = [p for p in spec.get("pvcs") or [] if p.get("name") != cache.pvc_name] + [
        {"name": cache.pvc_name, "create": False}]
    for key in keys:
        service = services[key]
        service["volumeMounts"] = [m for m in service.get("volumeMounts") or [] if m.get("name") != cache.pvc_name] + [
            {"name": cache.pvc_name, "mountPoint": cache.mount_path}]
