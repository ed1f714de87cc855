"""The profiler's version string."""

from __future__ import annotations

from importlib import metadata

from profiler.estimate.aic import aiconfigurator_version


def _package_version() -> str:
    try:
        return metadata.version("gitops-sla")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "0.0.0"


PACKAGE_VERSION = _package_version()
# Results depend on this code and on AI Configurator's data, so both are in the version.
PROFILER_VERSION = f"{PACKAGE_VERSION}+aic{aiconfigurator_version()}"
# This project's image as its Dockerfile tags it: the default image of profiling Jobs (`gitops-sla reconcile
# --profiling-image`). Generated DGDs never reference it (their Planner runs Dynamo's planner, or the image that
# gitops-sla.yaml's planner.image names).
DEFAULT_PLANNER_IMAGE = f"gitops-sla:{PACKAGE_VERSION}"
