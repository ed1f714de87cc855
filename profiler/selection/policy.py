"""The selection policy: which rule, which objective, which safety margins — from the profile config."""

from __future__ import annotations

from dataclasses import dataclass

from profiler.config import (
    DEFAULT_ITL_MARGIN, DEFAULT_TTFT_MARGIN, OptimizationType, ProfileConfig, SelectionRule,
)
from profiler.search_space import EngineRole


@dataclass(frozen=True)
class SelectionPolicy:
    """`fine`: each decode mapping's concurrency searched finely, `estimate x (1 + margin) <= target` required,
    the objective honoured. `dynamo`: Dynamo's rule on its sweep grid (no margin, most throughput)."""

    rule: SelectionRule = "fine"
    optimization: OptimizationType = "throughput"
    ttft_margin: float = DEFAULT_TTFT_MARGIN
    itl_margin: float = DEFAULT_ITL_MARGIN

    @classmethod
    def from_config(cls, config: ProfileConfig) -> tuple["SelectionPolicy", list[str]]:
        """The policy a profile config asks for, and warnings about settings the chosen rule ignores."""
        selection, sla = config.selection, config.sla
        if selection.rule == "dynamo":
            ignored = [name for name, value in (("selection.ttftMargin", selection.ttft_margin),
                                                ("selection.itlMargin", selection.itl_margin),
                                                ("sla.optimizationType", sla.optimization_type)) if value is not None]
            warnings = [f"selection.rule dynamo is Dynamo's rule as is; {', '.join(ignored)} ignored"] if ignored else []
            return cls(rule="dynamo", optimization="throughput", ttft_margin=0.0, itl_margin=0.0), warnings
        return cls(
            rule="fine",
            optimization=sla.optimization_type or "throughput",
            ttft_margin=DEFAULT_TTFT_MARGIN if selection.ttft_margin is None else selection.ttft_margin,
            itl_margin=DEFAULT_ITL_MARGIN if selection.itl_margin is None else selection.itl_margin,
        ), []

    def margin(self, role: EngineRole) -> float:
        return self.ttft_margin if role == "prefill" else self.itl_margin

    def limit_ms(self, role: EngineRole, target_ms: float) -> float:
        """The largest estimate that meets `target_ms` with this role's margin."""
        return target_ms / (1 + self.margin(role))

    def describe(self) -> str:
        """One line for the report."""
        if self.rule == "dynamo":
            return "Dynamo's rule: its 6-point decode concurrency grid, the most tokens/s/GPU within the SLA, no margin"
        objective = "the most tokens/s/GPU" if self.optimization == "throughput" else "the lowest latency"
        return (f"fine concurrency search, {objective} (optimizationType {self.optimization}) among points whose "
                f"estimate meets the SLA with a safety margin (TTFT x {1 + self.ttft_margin:g}, "
                f"ITL x {1 + self.itl_margin:g})")
