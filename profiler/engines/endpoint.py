"""`endpoint`: a serving endpoint the user already runs (as Dynamo's `profile_endpoint`): one mapping, nothing to
start or stop. The mapping it stands for is `--engine-option mapping=TP=2` (default `TP=1`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from profiler.config import ProfileConfig
from profiler.engines.registry import ProviderOptions, register
from profiler.engines.types import EngineMapping, ServingEndpoint
from profiler.errors import ProfilingError
from profiler.search_space import ParallelMapping

_KINDS = ("TP", "TEP", "DEP")


def parse_mapping(text: str) -> ParallelMapping:
    """`TP=2` -> ParallelMapping("TP", 2)."""
    kind, _, size = text.strip().upper().partition("=")
    if kind not in _KINDS or not size.isdigit() or int(size) < 1:
        raise ProfilingError(f"engine option mapping={text!r}: expected TP=n, TEP=n or DEP=n (n >= 1)")
    return ParallelMapping(kind, int(size))  # type: ignore[arg-type]


@dataclass(frozen=True)
class EndpointProvider:
    """One running OpenAI-compatible endpoint, checked to serve the model before each use."""

    endpoint: ServingEndpoint
    mapping: EngineMapping
    name: str = "endpoint"

    @property
    def fixed_mapping(self) -> EngineMapping:
        return self.mapping

    @contextmanager
    def acquire(self, mapping: EngineMapping) -> Iterator[ServingEndpoint]:
        if mapping.label != self.mapping.label:
            raise ProfilingError(f"the endpoint {self.endpoint.url} serves {self.mapping.label}, not {mapping.label}")
        served = served_models(self.endpoint.url)
        if self.endpoint.model not in served:
            raise ProfilingError(
                f"{self.endpoint.url} does not serve model '{self.endpoint.model}' (it serves: "
                f"{', '.join(served) or 'nothing'}); pass --model with one of them"
            )
        yield self.endpoint


def served_models(url: str, timeout_s: float = 10.0) -> list[str]:
    """The model ids at `url/v1/models`; raises `ProfilingError` when the endpoint does not answer."""
    try:
        response = httpx.get(f"{url.rstrip('/')}/v1/models", timeout=timeout_s)
        response.raise_for_status()
        return [str(item.get("id")) for item in response.json().get("data", [])]
    except (httpx.HTTPError, ValueError) as error:
        raise ProfilingError(f"{url}/v1/models did not answer ({error}); is the endpoint running?") from error


def _factory(options: ProviderOptions, config: ProfileConfig) -> EndpointProvider:
    if not options.endpoint_url:
        raise ProfilingError("the endpoint provider needs the endpoint's URL (--endpoint URL)")
    if options.tokenizer_dir is None or not (options.tokenizer_dir / "tokenizer_config.json").is_file():
        raise ProfilingError(
            f"--tokenizer {options.tokenizer_dir}: give a local tokenizer directory (with tokenizer_config.json); "
            "the profiler never downloads one"
        )
    model = options.served_model or config.deployment.model
    parallel = parse_mapping(options.extra.get("mapping", "TP=1"))
    url = options.endpoint_url.rstrip("/").removesuffix("/v1")
    metrics = options.extra.get("metrics-url")
    return EndpointProvider(
        endpoint=ServingEndpoint(url=url, model=model, tokenizer_dir=options.tokenizer_dir, metrics_url=metrics or f"{url}/metrics"),
        mapping=EngineMapping.of(parallel, "agg", config.engine.backend, model),
    )


register("endpoint", _factory)
