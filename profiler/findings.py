"""What one profiling run found: the input to the report, the plots and `profile.json`."""

from __future__ import annotations

import json
from dataclasses import dataclass

from profiler.estimate.aic import AicTarget
from profiler.config import ProfileConfig
from profiler.interpolation import DecodeSurface, PrefillCurve
from profiler.result import EngineChoice
from profiler.selection import Candidate, EnginePick, ReplicaPlan, Selection
from profiler.estimate.sweep import SweepResult


@dataclass(frozen=True)
class MeasurementReport:
    """How a measured profile was measured: on which engines, at what cost, and how the estimate compared."""

    provider: str
    measured_mappings: list[str]  # mappings deployed and measured
    estimated_only: list[str]  # candidates left to their (calibrated) estimates
    deployments: int
    aiperf_runs: int
    seconds: float
    ttft_ratio: float | None  # measured / estimated at the SLA's ISL (median over measured mappings)
    itl_ratio: float | None  # measured / estimated ITL (median over measured points)
    prefill_isl_range: tuple[int, int]  # ISLs measured on the chosen prefill engine; the curve beyond is fitted
    decode_points: list[tuple[int, float]]  # (concurrency, ITL ms) measured on the chosen decode engine
    kv_tokens: int | None  # KV capacity of the chosen decode engine from its frontend's metrics (None: unknown)
    prior: str  # what guided the sweep: an AI Configurator target, or why there was none
    decode_anchor: tuple[int, float] | None = None  # (1, ITL ms) of the chosen decode engine's prefill run

    def as_dict(self) -> dict:
        return {
            "provider": self.provider, "prior": self.prior, "measured_mappings": self.measured_mappings,
            "estimated_only": self.estimated_only, "deployments": self.deployments, "aiperf_runs": self.aiperf_runs,
            "ttft_measured_over_estimated": self.ttft_ratio, "itl_measured_over_estimated": self.itl_ratio,
            "prefill_isl_range": list(self.prefill_isl_range),
            "decode_points": [{"concurrency": c, "itl_ms": i} for c, i in self.decode_points],
            "decode_anchor": {"concurrency": self.decode_anchor[0], "itl_ms": self.decode_anchor[1]}
            if self.decode_anchor else None,
            "kv_tokens": self.kv_tokens,
        }


@dataclass(frozen=True)
class Findings:
    config: ProfileConfig
    target: AicTarget | None  # None: measured without an AI Configurator estimate
    gpu_counts: list[int]
    gpus_per_node: int
    max_context_length: int
    sweep: SweepResult
    selection: Selection
    replicas: ReplicaPlan | None
    prefill: EngineChoice
    decode: EngineChoice
    prefill_curve: PrefillCurve
    decode_surface: DecodeSurface
    warnings: list[str]
    notes: list[str]
    dgd_name: str
    dgd_namespace: str
    configmap_name: str
    stock_planner: bool
    profiler_version: str
    measurement: MeasurementReport | None = None  # None: estimated with AI Configurator

    @property
    def sla_met(self) -> bool:
        return self.prefill.meets_sla and self.decode.meets_sla


def profile_json(findings: Findings) -> bytes:
    """All sweep points and both choices, for tools and careful reviewers."""
    sla = findings.config.sla
    document = {
        "profiler_version": findings.profiler_version,
        "aiconfigurator": {
            "system": findings.target.system,
            "backend": findings.target.backend,
            "version": findings.target.version,
            "model": findings.target.model,
        } if findings.target else None,
        **({"measured": findings.measurement.as_dict()} if findings.measurement else {}),
        "sla": {"isl": sla.isl, "osl": sla.osl, "ttft_ms": sla.ttft, "itl_ms": sla.itl},
        "sla_met": findings.sla_met,
        "gpu_counts": findings.gpu_counts,
        "prefill": findings.prefill.model_dump(),
        "decode": findings.decode.model_dump(),
        "prefill_sweep": [
            {"mapping": p.mapping.label, "num_gpus": p.mapping.num_gpus, "ttft_ms": p.ttft_ms, "thpt_per_gpu": p.thpt_per_gpu}
            for p in findings.sweep.prefill
        ],
        "decode_sweep": [
            {
                "mapping": p.mapping.label,
                "num_gpus": p.mapping.num_gpus,
                "concurrency": p.concurrency,
                "itl_ms": p.itl_ms,
                "thpt_per_gpu": p.thpt_per_gpu,
                "max_kv_tokens": p.max_kv_tokens,
            }
            for p in findings.sweep.decode
        ],
        "selection": _selection_json(findings),
        "warnings": findings.warnings,
        "notes": findings.notes,
    }
    return (json.dumps(document, indent=2) + "\n").encode()


def _point_json(point: Candidate) -> dict:
    return {"mapping": point.mapping.label, "num_gpus": point.mapping.num_gpus, "concurrency": point.concurrency,
            "latency_ms": point.latency_ms, "thpt_per_gpu": point.thpt_per_gpu, "source": point.source}


def _pick_json(chosen: EnginePick) -> dict:
    return {**_point_json(chosen.candidate), "target_ms": chosen.target_ms, "margin": chosen.margin,
            "headroom": chosen.headroom, "meets_sla": chosen.meets_sla, "within_margin": chosen.within_margin}


def _selection_json(findings: Findings) -> dict:
    selection, plan = findings.selection, findings.replicas
    policy = selection.policy
    return {
        "rule": policy.rule,
        "optimization_type": policy.optimization,
        "ttft_margin": policy.ttft_margin,
        "itl_margin": policy.itl_margin,
        "prefill": _pick_json(selection.prefill),
        "decode": _pick_json(selection.decode),
        "dynamo_prefill": _pick_json(selection.dynamo_prefill),
        "dynamo_decode": _pick_json(selection.dynamo_decode),
        "prefill_pareto": [_point_json(p) for p in selection.prefill_front],
        "decode_pareto": [_point_json(p) for p in selection.decode_front],
        "decode_points": [_point_json(p) for p in selection.decode_points],
        "replicas": None if plan is None else {"prefill": plan.prefill, "decode": plan.decode,
                                               "request_rate": plan.request_rate, "basis": plan.basis},
    }
