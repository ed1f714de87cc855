"""Offline facts `gitops-sla validate` checks for requests profiled with AI Configurator: the system and the
model are in AI Configurator's own lists, and ISL + OSL fit the model's context length.

These are the checks offline profiling would fail on, so the pre-commit hook catches them. (A backend version
AI Configurator does not bundle is no failure: the profiler estimates with the closest bundled version and says
so in the status, as for Dynamo's own quick-start, which names 0.20.0.) AI Configurator's lists are loaded on first use only, so validating a request
that does not use AI Configurator costs nothing; the rules are the profiler's own (`profiler.estimate.aic`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal

from profiler.config import ProfileConfig
from profiler.errors import ProfilingError

_CONFIG = ("spec", "profilingConfig", "config")


@dataclass(frozen=True)
class AicFinding:
    """A problem at `path` (keys as the profile config spells them in camelCase)."""

    path: tuple[str, ...]
    message: str
    severity: Literal["error", "warning"] = "error"


def _where(candidates: tuple[tuple[str, str | None], ...]) -> tuple[str, ...]:
    """The path of the first candidate setting that is set."""
    for path, value in candidates:
        if value:
            return _CONFIG + tuple(path.split("."))
    return _CONFIG + tuple(candidates[-1][0].split("."))


@cache
def _system_problem(system: str, backend: str) -> str | None:
    from profiler.estimate import aic

    try:
        aic.resolve_system(system, backend)
    except ProfilingError as exc:
        return str(exc)
    return None


@cache
def _model_facts(model: str) -> tuple[str | None, int, str | None]:
    """The bundled model id, its context length (0 when unknown), and why it is not bundled."""
    from aiconfigurator_core.sdk import utils

    from profiler.estimate import aic

    try:
        resolved = aic.resolve_model(model)
    except ProfilingError as exc:
        return None, 0, str(exc)
    try:
        context = int(utils.get_model_config_from_model_path(resolved).get("context") or 0)
    except Exception:  # noqa: BLE001 - an unreadable bundled config is AI Configurator's, found when profiling
        context = 0
    return resolved, context, None


def check_aic_names(config: ProfileConfig, backend: str, served_model: str, *, v1beta1: bool = False
                    ) -> list[AicFinding]:
    """What offline profiling of this request would fail on, from AI Configurator's lists (each system and
    model looked up once per process); nothing when the request does not use AI Configurator. `v1beta1`: the
    findings name the v1beta1 fields (`spec.hardware.gpuSku`, `spec.model`, `spec.workload.isl`), and a model
    AI Configurator lacks is a warning (valid in Dynamo 1.x, which falls back to a naive configuration)."""
    if not config.sweep.use_ai_configurator:
        return []
    sweep, section = config.sweep, config.aic
    system = config.aic_system
    if system and (problem := _system_problem(system, backend)):
        if v1beta1:
            return [AicFinding(("spec", "hardware", "gpuSku"), problem.replace("Set sweep.aicSystem to",
                                                                               "Set hardware.gpuSku to"))]
        path = _where((("sweep.aicSystem", sweep.aic_system), ("aic.system", section.system),
                       ("hardware.gpuType", config.hardware.gpu_type)))
        return [AicFinding(path, problem)]
    resolved, context, problem = _model_facts(sweep.aic_hf_id or section.model_name or served_model)
    if problem and v1beta1:  # Dynamo 1.x profiles such a model with a naive config; this project cannot
        unbundled = problem.split(" Set sweep.aicHfId")[0]
        return [AicFinding(("spec", "model"), f"{unbundled} Dynamo 1.x's rapid search falls back to a naive "
                           "configuration here; this project's does not, so profiling will fail: use "
                           "searchStrategy: thorough (measured on real engines), or a model AI Configurator has",
                           severity="warning")]
    if problem:
        named = sweep.aic_hf_id or section.model_name
        path = _where((("sweep.aicHfId", sweep.aic_hf_id), ("aic.model_name", section.model_name))) if named \
            else ("spec", "model")
        return [AicFinding(path, problem)]
    user = config.engine.max_context_length
    limit = min(context, user) if context and user else (context or user)
    tokens = config.sla.isl + config.sla.osl
    if limit and tokens > limit:
        what = "engine.maxContextLength" if user and user == limit else f"the context length of {resolved}"
        lengths = "workload.isl + workload.osl" if v1beta1 else "sla.isl + sla.osl"
        path = ("spec", "workload", "isl") if v1beta1 else _CONFIG + ("sla", "isl")
        return [AicFinding(path, f"{lengths} = {tokens} tokens exceeds {what} ({limit} tokens); lower "
                           f"{lengths.replace(' + ', '/')} so a request fits")]
    return []
