"""The Kubernetes API client of the reconciler: a pod's service account, else a kubeconfig.

`api_client(kubeconfig)` builds one `kubernetes.client.ApiClient` (never the library's global default
configuration, so two clients in one process — tests, or two clusters — do not share settings). With an
explicit kubeconfig path that file is used (and its current context, or `context`); without one, the pod's
service account when running in a pod, else `$KUBECONFIG` / `~/.kube/config`. Failures raise
`ClusterConfigError` naming what was tried and what to do.
"""

from __future__ import annotations

from pathlib import Path

from kubernetes import client, config

from gitops_sla.cluster.errors import ClusterConfigError

__all__ = ["ClusterConfigError", "api_client", "in_cluster_namespace"]


def api_client(kubeconfig: str | Path | None = None, *, context: str | None = None) -> client.ApiClient:
    """An API client from `kubeconfig` (a file), else the pod's service account, else the default kubeconfig."""
    configuration = client.Configuration()
    if kubeconfig is not None:
        path = Path(kubeconfig)
        if not path.is_file():
            raise ClusterConfigError(f"--kubeconfig {path}: no such file; pass the path of a kubeconfig file")
        try:
            config.load_kube_config(config_file=str(path), context=context, client_configuration=configuration)
        except (config.ConfigException, ValueError, OSError) as exc:
            raise ClusterConfigError(f"--kubeconfig {path}: {exc}; check the file (kubectl --kubeconfig "
                                     f"{path} get ns)") from None
        return client.ApiClient(configuration)
    try:
        config.load_incluster_config(client_configuration=configuration)
    except config.ConfigException:
        try:
            config.load_kube_config(context=context, client_configuration=configuration)
        except (config.ConfigException, OSError) as exc:
            raise ClusterConfigError(f"no cluster credentials: not in a pod with a service account and no usable "
                                     f"kubeconfig ({exc}); pass --kubeconfig or set KUBECONFIG") from None
    return client.ApiClient(configuration)


def in_cluster_namespace(default: str = "default") -> str:
    """The pod's namespace (from its service account), else `default`."""
    path = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
    try:
        return path.read_text().strip() or default
    except OSError:
        return default
