"""Engine providers for measured (online) profiling: `acquire(mapping)` yields a `ServingEndpoint` and stops the
engine afterwards. Built in: `endpoint` (a URL the user already runs) and `local-dynamo` (Dynamo's frontend and
mocker workers on 127.0.0.1); `create(name, options, config)` builds one by name."""

from profiler.engines.registry import ProviderOptions, create, names, register
from profiler.engines.types import EngineMapping, EngineProvider, EngineRole, ServingEndpoint

__all__ = [
    "EngineMapping", "EngineProvider", "EngineRole", "ProviderOptions", "ServingEndpoint", "create", "names", "register",
]
