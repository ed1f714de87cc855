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
class Findings:
    config: ProfileConfig
    target: AicTarget
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
        },
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
