"""Shared, cached profiling runs: each distinct request is profiled once per test session."""

from __future__ import annotations

import json
import logging
from typing import Any, Callable

import pytest
import yaml

from profiler import ProfileRequest, ProfileResult, profile
from profiler.config import ProfileConfig

AIC_SAMPLE_SLA = {"isl": 3000, "osl": 150, "ttft": 500.0, "itl": 30.0}  # the quick-start's AIC sample


def make_request(
    backend: str = "trtllm",
    model: str = "Qwen/Qwen3-32B",
    *,
    sla: dict[str, Any] | None = None,
    sweep: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    workers_image: str | None = None,
    **request_fields: Any,
) -> ProfileRequest:
    document = {
        "sweep": {"useAiConfigurator": True, "aicSystem": "h200_sxm", **(sweep or {})},
        "sla": sla or AIC_SAMPLE_SLA,
        **(extra or {}),
    }
    config = ProfileConfig.model_validate(document).with_request_fields(
        model=model, backend=backend, namespace="team-a", workers_image=workers_image
    )
    fields = {"request_name": "sla-aic", "request_namespace": "team-a", **request_fields}
    return ProfileRequest(config=config, **fields)


@pytest.fixture(scope="session")
def run_profile() -> Callable[[ProfileRequest], ProfileResult]:
    """`profile(request)`, memoised on the request's content."""
    logging.getLogger("aiconfigurator_core").setLevel(logging.ERROR)
    logging.getLogger("aiconfigurator").setLevel(logging.ERROR)
    cache: dict[str, ProfileResult] = {}

    def run(request: ProfileRequest) -> ProfileResult:
        key = json.dumps(request.model_dump(mode="json"), sort_keys=True)
        if key not in cache:
            cache[key] = profile(request)
        return cache[key]

    return run


def load(result: ProfileResult, name: str) -> Any:
    return yaml.safe_load(result.files[name])
