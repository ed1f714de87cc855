"""Errors of the cluster adapters, importable without the Kubernetes client."""


class ClusterConfigError(Exception):
    """No usable cluster credentials: the message says what was tried and what to do."""
