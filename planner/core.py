"""One planning step: observe, forecast, decide (policy), apply (actuator), export and log.

The `Planner` holds the state that outlives a step (the predictors, the recommendation history for the
scale-down stabilisation window, the last correction factors) and does the I/O at the edges; the decision itself
is `policy.decide`, a pure function.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Protocol

from planner.policy import (CorrectionFactors, Decision, Interpolators, Load, PolicyConfig, Replicas,
                            correction_factors, decide, hold, missing_inputs)
from planner.predictors import LoadPredictor
from planner.prometheus import Observation, PrometheusUnavailable

log = logging.getLogger("planner")
decision_log = logging.getLogger("planner.decisions")


class MetricsSource(Protocol):
    def observe(self, window_s: int, at: float | None = None) -> Observation: ...


class Actuator(Protocol):
    """Applies decisions; `current()` is what is deployed now (`None` if unknown). An actuator that can tell
    how many replicas are serving (not just desired) also has `running() -> Replicas | None`."""

    name: str

    def current(self) -> Replicas | None: ...

    def apply(self, decision: Decision, now: float) -> dict: ...


class DecisionSink(Protocol):
    def record(self, decision: Decision, outcome: dict) -> None: ...


@dataclass
class Predictors:
    """One predictor per load series, as in Dynamo."""

    num_req: LoadPredictor
    isl: LoadPredictor
    osl: LoadPredictor

    @classmethod
    def of_kind(cls, kind: str, make: Callable[[str], LoadPredictor]) -> "Predictors":
        """Three predictors of `kind`; `burst` and `auto` (which may choose `burst`) put the margin on the request
        count only: a high quantile of ISL and OSL as well would multiply it into the token load (q90^3)."""
        shape = "constant" if kind in ("burst", "auto") else kind
        return cls(num_req=make(kind), isl=make(shape), osl=make(shape))

    def observe(self, observation: Observation) -> None:
        self.num_req.observe(observation.num_req)
        if observation.num_req:
            self.isl.observe(observation.isl)
            self.osl.observe(observation.osl)

    def predict(self) -> Load:
        return Load(num_req=self.num_req.predict() or 0.0, isl=self.isl.predict(), osl=self.osl.predict())


class Planner:
    """Runs planning steps against a metrics source and an actuator."""

    def __init__(self, config: PolicyConfig, interpolators: Interpolators, predictors: Predictors,
                 source: MetricsSource, actuator: Actuator, sinks: tuple[DecisionSink, ...] = (),
                 stabilize_from_start: bool = True, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.interpolators = interpolators
        self.predictors = predictors
        self.source = source
        self.actuator = actuator
        self.sinks = sinks
        self.clock = clock
        self.history: tuple[tuple[float, Replicas], ...] = ()
        self.stabilize_from_start = stabilize_from_start
        self.started = False
        self.last_decision: Decision | None = None
        self.factors = CorrectionFactors()
        self.idle_intervals = 0

    def _current(self) -> Replicas | None:
        current = self.actuator.current()
        if current is None and self.last_decision is not None and self.last_decision.prefill_replicas is not None:
            current = Replicas(self.last_decision.prefill_replicas, self.last_decision.decode_replicas)
        return current

    def _running(self) -> Replicas | None:
        running = getattr(self.actuator, "running", None)
        return running() if running else None

    def _decide(self, now: float, at: float | None, current: Replicas | None) -> Decision:
        try:
            observation = self.source.observe(self.config.adjustment_interval, at)
        except PrometheusUnavailable as error:
            return hold(f"Prometheus unavailable, holding current replicas: {error}", current, None, self.factors)
        observed = observation.to_dict()
        if observation.num_req is None:
            return hold("no request counter (dynamo_frontend_requests_total) for this model and namespace in "
                        "Prometheus, holding current replicas", current, observed, self.factors)
        if observation.num_req > 0:
            self.idle_intervals = 0
            missing = missing_inputs(observation, need_latency=not self.config.no_correction)
            if missing:
                return hold(f"metrics missing or NaN ({', '.join(missing)}), holding current replicas",
                            current, observed, self.factors)
        else:
            self.idle_intervals += 1
        self.predictors.observe(observation)
        if observation.num_req > 0 and not self.config.no_correction:
            # The ITL was measured on the replicas that served, not on those still starting (Dynamo counts the
            # running ones); the desired count only when the actuator cannot tell.
            running = self._running()
            serving = running or current
            decode_workers = serving.decode if serving else None
            fresh = correction_factors(observation, self.interpolators, decode_workers,
                                       self.config.adjustment_interval)
            self.factors = CorrectionFactors(
                prefill=fresh.prefill if fresh.prefill is not None else self.factors.prefill,
                decode=fresh.decode if fresh.decode is not None else self.factors.decode)
        factors = CorrectionFactors() if self.config.no_correction else self.factors
        decision, self.history = decide(self.config, self.interpolators, observation, self.predictors.predict(),
                                        factors, current, self.history, now)
        if self.idle_intervals:
            decision = replace(decision, reason=f"no traffic for {self.idle_intervals} interval(s) "
                                                f"({self.idle_intervals * self.config.adjustment_interval} s); "
                                                + decision.reason,
                               details=dict(decision.details, idle_intervals=self.idle_intervals))
        return decision

    def step(self, at: float | None = None) -> tuple[Decision, dict]:
        """One planning step: decide, apply, record. `at` evaluates the metrics at that time (default: now)."""
        now = self.clock() if at is None else at
        current = self._current()
        if not self.started:
            self.started = True
            if self.stabilize_from_start and current is not None:
                self.history = ((now, current),)
        decision = self._decide(now, at, current)
        self.last_decision = decision
        outcome = self.actuator.apply(decision, now)
        log_decision(decision, outcome, self.actuator.name)
        for sink in self.sinks:
            sink.record(decision, outcome)
        return decision, outcome


def decision_record(decision: Decision, outcome: dict, mode: str) -> dict:
    """The decision as one JSON-able mapping, stable key order."""
    return dict(decision.to_dict(), mode=mode, outcome=outcome)


def log_decision(decision: Decision, outcome: dict, mode: str) -> None:
    """One human line and one JSON line per decision."""
    current = decision.current
    was = f"{current.prefill}P/{current.decode}D" if current else "unknown"
    cf = decision.correction_factors
    level = logging.WARNING if decision.action == "hold" else logging.INFO
    log.log(level, "decision %s: %s -> %sP/%sD (observed num_req=%s, predicted num_req=%s, correction p=%s d=%s; "
            "%s) [%s: %s]", decision.action, was, decision.prefill_replicas, decision.decode_replicas,
            (decision.observed or {}).get("num_req"), (decision.predicted or {}).get("num_req"),
            _fmt(cf.get("prefill")), _fmt(cf.get("decode")), decision.reason, mode, outcome.get("result"))
    decision_log.info(json.dumps(decision_record(decision, outcome, mode), sort_keys=True, default=str))


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


class JsonlDecisionLog:
    """Appends every decision to `<log_dir>/decisions.jsonl` (`--log-dir`)."""

    def __init__(self, directory: str | Path, mode: str) -> None:
        self.path = Path(directory) / "decisions.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.mode = mode

    def record(self, decision: Decision, outcome: dict) -> None:
        with self.path.open("a") as handle:
            handle.write(json.dumps(decision_record(decision, outcome, self.mode), sort_keys=True, default=str) + "\n")


def config_from_settings(settings) -> PolicyConfig:
    """The policy's knobs from `PlannerSettings`."""
    return PolicyConfig(
        adjustment_interval=settings.adjustment_interval, itl_ms=settings.itl,
        prefill_engine_num_gpu=settings.prefill_engine_num_gpu, decode_engine_num_gpu=settings.decode_engine_num_gpu,
        max_gpu_budget=settings.max_gpu_budget, min_prefill=settings.min_prefill_replicas,
        max_prefill=settings.max_prefill_replicas, min_decode=settings.min_decode_replicas,
        max_decode=settings.max_decode_replicas, scale_down_stabilization_s=settings.scale_down_stabilization,
        max_step=settings.max_step, no_correction=settings.no_correction,
        prefill_utilization=settings.prefill_utilization, prefix_cache_discount=settings.prefix_cache_discount)

