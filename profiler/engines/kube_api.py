"""Kubernetes API access shared by the `kubernetes` engine provider and the reconciler's `gitops_sla.cluster`:
`load_api_client()` (the pod's service account, else `$KUBECONFIG`), and calls that retry what a real API
server answers under load or contention.

`call(what, fn)` retries 429, 5xx, 409 Conflict on an update and dropped connections a few times with backoff,
then raises `ClusterError` naming the operation and the last answer. Not found (404) and already exists (409 on
create) are answers, not failures: they reach the caller as `ApiException` to read.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, TypeVar

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from urllib3.exceptions import HTTPError as TransportError

T = TypeVar("T")

_RETRIED = {409, 429, 500, 502, 503, 504}


class ClusterError(Exception):
    """The API server failed an operation after retries; the message says which and what to do."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def load_api_client() -> client.ApiClient:
    """The pod's service account when running in a pod, else `$KUBECONFIG` / `~/.kube/config`."""
    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)
    except ConfigException:
        try:
            config.load_kube_config(client_configuration=configuration)
        except (ConfigException, OSError) as exc:
            raise ClusterError(f"no Kubernetes API to talk to: not in a pod with a service account, and no usable "
                               f"kubeconfig ($KUBECONFIG or ~/.kube/config): {exc}") from None
    return client.ApiClient(configuration)


@dataclass(frozen=True)
class Retry:
    """How often and how patiently to retry a failed API call."""

    attempts: int = 4
    first_delay_s: float = 0.5
    max_delay_s: float = 8.0


def call(what: str, fn: Callable[[], T], retry: Retry = Retry(), *, retry_conflict: bool = True) -> T:
    """`fn()`, retried on 429/5xx (and 409 with `retry_conflict`) and dropped connections; other API errors
    propagate as `ApiException` for the caller to read (404, 409 on create, 403)."""
    delay = retry.first_delay_s
    for attempt in range(1, retry.attempts + 1):
        try:
            return fn()
        except ApiException as exc:
            if exc.status not in _RETRIED or (exc.status == 409 and not retry_conflict):
                raise
            last = f"{exc.status} {exc.reason}"
            status: int | None = exc.status
        except TransportError as exc:
            last, status = f"no answer ({exc})", None
        if attempt < retry.attempts:
            time.sleep(delay)
            delay = min(delay * 2, retry.max_delay_s)
    raise ClusterError(f"{what}: the Kubernetes API server answered {last} {retry.attempts} times; check the API "
                       "server and the reconciler's access, the next pass tries again", status)


def forbidden(exc: ApiException) -> bool:
    return exc.status in (401, 403)
