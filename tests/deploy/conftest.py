"""Registers the fixtures of `deploy_support` for the image, install-manifest, HA and readiness tests."""

from deploy_support import kube

__all__ = ["kube"]
