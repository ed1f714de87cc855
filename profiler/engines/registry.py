"""Engine providers by name, so `python -m profiler --engines NAME` and the reconciler can choose one.

A provider module registers a factory: `register("local-dynamo", factory)`; a factory takes the provider options
and the request's profile config and returns an `EngineProvider`, raising `ProfilingError` on bad options.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from profiler.config import ProfileConfig
from profiler.engines.types import EngineProvider
from profiler.errors import ProfilingError


@dataclass(frozen=True)
class ProviderOptions:
    """What a provider may need from the command line or the reconciler's settings.

    `extra` carries provider-specific settings (`--engine-option KEY=VALUE`), e.g. a Kubernetes namespace."""

    endpoint_url: str | None = None  # endpoint: the running frontend's base URL
    served_model: str | None = None  # the name the engine serves (default: the request's model)
    tokenizer_dir: Path | None = None  # a local tokenizer directory (never a hub download)
    dynamo_python: Path | None = None  # local-dynamo: the python of the Dynamo 1.6.1 virtualenv
    timing_npz: Path | None = None  # local-dynamo: a mocker-format profile NPZ timing every engine
    extra: Mapping[str, str] = field(default_factory=dict)


ProviderFactory = Callable[[ProviderOptions, ProfileConfig], EngineProvider]

_FACTORIES: dict[str, ProviderFactory] = {}
# Built-in providers, imported when first asked for (their modules may import heavy or optional packages).
_BUILTIN_MODULES = {
    "endpoint": "profiler.engines.endpoint",
    "local-dynamo": "profiler.engines.local_dynamo",
    "kubernetes": "profiler.engines.kubernetes",
}


def register(name: str, factory: ProviderFactory) -> None:
    """Make `factory` the provider called `name`."""
    _FACTORIES[name] = factory


def names() -> list[str]:
    """Every provider name that can be asked for."""
    return sorted(set(_FACTORIES) | set(_BUILTIN_MODULES))


def create(name: str, options: ProviderOptions, config: ProfileConfig) -> EngineProvider:
    """The provider called `name`, built for this request."""
    if name not in _FACTORIES and name in _BUILTIN_MODULES:
        try:
            importlib.import_module(_BUILTIN_MODULES[name])
        except ModuleNotFoundError as error:
            if error.name != _BUILTIN_MODULES[name]:
                raise
    if name not in _FACTORIES:
        raise ProfilingError(f"unknown engine provider '{name}'; choose one of: {', '.join(names())}")
    return _FACTORIES[name](options, config)
