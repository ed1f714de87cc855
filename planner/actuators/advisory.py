"""Advisory mode: decisions are exported as metrics and logged, never applied."""

from __future__ import annotations

from planner.policy import Decision, Replicas


class AdvisoryActuator:
    """Applies nothing; the current replicas are unknown (the planner falls back to its last decision)."""

    name = "advisory"

    def current(self) -> Replicas | None:
        return None

    def apply(self, decision: Decision, now: float) -> dict:
        return {"result": "advised" if decision.action != "hold" else "held"}
