"""The engine-provider seam: the measuring half of the profiler asks a provider for a serving endpoint per
candidate mapping and releases it afterwards.

A provider's `acquire(mapping)` is a context manager: entering it starts (or finds) an engine serving the model
with that parallel mapping and role and yields where to reach it; leaving it, on every path (normal exit, an
exception, Ctrl-C), stops what was started. Providers are chosen by name (`profiler.engines.registry`).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from profiler.search_space import ParallelMapping

EngineRole = Literal["prefill", "decode", "agg"]


@dataclass(frozen=True)
class EngineMapping:
    """One engine to deploy: backend, served model, role and parallel sizes (TP, EP, attention DP).

    Dynamo's kinds: `TP=n` (tp=n), `TEP=n` (tp=n, ep=n), `DEP=n` (dp=n, ep=n)."""

    backend: str
    model: str
    role: EngineRole
    tp: int = 1
    ep: int = 1
    dp: int = 1

    @property
    def num_gpus(self) -> int:
        return self.tp * self.dp

    @property
    def parallel(self) -> ParallelMapping:
        """The search space's mapping (`TP=2`, `TEP=4`, `DEP=8`)."""
        if self.dp > 1:
            return ParallelMapping("DEP", self.dp)
        if self.ep > 1:
            return ParallelMapping("TEP", self.tp)
        return ParallelMapping("TP", self.tp)

    @property
    def label(self) -> str:
        """Dynamo's label, e.g. `TP=2`."""
        return self.parallel.label

    def describe(self) -> str:
        """`decode TP=2 (vllm)`: for progress lines and errors."""
        return f"{self.role} {self.label} ({self.backend})"

    @classmethod
    def of(cls, mapping: ParallelMapping, role: EngineRole, backend: str, model: str) -> "EngineMapping":
        """The engine for a search-space mapping."""
        if mapping.kind == "DEP":
            return cls(backend, model, role, tp=1, ep=mapping.size, dp=mapping.size)
        if mapping.kind == "TEP":
            return cls(backend, model, role, tp=mapping.size, ep=mapping.size)
        return cls(backend, model, role, tp=mapping.size)


@dataclass(frozen=True)
class ServingEndpoint:
    """Where an acquired engine answers: an OpenAI-compatible base URL (no `/v1`), the model name it serves,
    a local tokenizer directory for the load generator, and the frontend's Prometheus `/metrics` URL (None when
    the provider cannot offer one; KV capacity is then unknown)."""

    url: str
    model: str
    tokenizer_dir: Path
    metrics_url: str | None = None


@runtime_checkable
class EngineProvider(Protocol):
    """Starts and stops engines for the measuring profiler.

    `fixed_mapping` is the one mapping a provider can offer (an endpoint the user already runs), or None when
    any mapping can be deployed."""

    name: str

    @property
    def fixed_mapping(self) -> EngineMapping | None: ...

    def acquire(self, mapping: EngineMapping) -> AbstractContextManager[ServingEndpoint]:
        """Start (or find) an engine for `mapping`; stop it when the context exits, on every path."""
        ...
