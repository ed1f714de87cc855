"""AI Configurator adapter: which system, backend version and model to estimate, and the estimates.

Uses AI Configurator's in-process Python/Rust estimators (`backend.run_static_latency_only` and the
backend memory model), the calls Dynamo's AIC profiler makes, never its CLI. One `Estimator` loads one
performance database and caches the models it builds, so a profiling run loads the database once.

Resolution rules:
- system: `sweep.aic_system`, `aic.system` or `hardware.gpu_type`, lower-cased; `h200` means `h200_sxm`.
- backend version: the requested one when AI Configurator bundles it (exact version or a slot alias
  `current`/`previous`/`next`), else the closest bundled version (the newest one not newer than the request,
  else the oldest), with a warning; none requested: AI Configurator's `current` slot, as its CLI does.
- model: a Hugging Face id AI Configurator bundles a config for, or a legacy enum name (`QWEN3_32B`).
  Anything else fails, listing what is supported: offline profiling never downloads from a model hub.
"""

from __future__ import annotations

import logging
import re
import threading
import types
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml
from packaging.version import InvalidVersion, Version

from profiler.errors import ProfilingError
from profiler.search_space import (
    DEEPSEEK_STYLE_MOE_ARCHITECTURES,
    EngineRole,
    ModelShape,
    ParallelMapping,
    quantization_block_size,
)

logger = logging.getLogger(__name__)

VERSION_ALIASES = ("current", "previous", "next")
PREFILL_OSL = 5  # Dynamo's prefill probe: a short answer, batch size 1
STATIC_STRIDE = 32  # Dynamo's `run_static(..., stride=32)`
_NON_SYSTEM_YAMLS = {"query_versions", "attention_lane_defaults", "perf_data_reuse_manifest"}
# Model enum names from older AI Configurator releases (and Dynamo's docs) that the derived names miss.
_LEGACY_MODEL_NAMES = {
    "LLAMA3_1_8B": "meta-llama/Meta-Llama-3.1-8B",
    "LLAMA3_1_70B": "meta-llama/Meta-Llama-3.1-70B",
    "LLAMA3_1_405B": "meta-llama/Meta-Llama-3.1-405B",
    "QWEN3_235B": "Qwen/Qwen3-235B-A22B",
    "QWEN3_480B": "Qwen/Qwen3-Coder-480B-A35B-Instruct",
    "MOE_MIXTRAL8X7B": "mistralai/Mixtral-8x7B-v0.1",
    "MOE_MIXTRAL8X22B": "mistralai/Mixtral-8x22B-v0.1",
    "KIMI_K2": "moonshotai/Kimi-K2-Instruct",
}


def aiconfigurator_version() -> str:
    """The installed `aiconfigurator-core` version."""
    try:
        return metadata.version("aiconfigurator-core")
    except metadata.PackageNotFoundError:  # pragma: no cover - it is a hard dependency
        return "unknown"


@dataclass(frozen=True)
class AicTarget:
    """What AI Configurator estimates: a model on one system, backend and database version."""

    system: str
    backend: str
    version: str
    model: str


# --------------------------------------------------------------------------------------------------
# Resolution
# --------------------------------------------------------------------------------------------------


@cache
def _sdk():
    """AI Configurator's database module, imported on first use."""
    from aiconfigurator_core.sdk import perf_database

    _use_libyaml(perf_database)
    return perf_database


def _use_libyaml(module: types.ModuleType) -> None:
    """Have `module` parse YAML with PyYAML's LibYAML-backed safe loader.

    AI Configurator reads every system's YAML with PyYAML's pure-Python loader to derive its version slots
    (0.14 s of a 2-core machine's fresh process); the LibYAML parser builds the same Python objects (same
    constructor and resolver) about six times faster. The module's `yaml` global is replaced by a copy of PyYAML
    whose `safe_load`/`SafeLoader` are the LibYAML ones; nothing else changes. Without LibYAML it is left alone.
    """
    if not getattr(yaml, "__with_libyaml__", False) or getattr(module, "yaml", None) is not yaml:
        return
    libyaml = types.ModuleType("yaml")
    libyaml.__dict__.update(vars(yaml))
    libyaml.SafeLoader = yaml.CSafeLoader
    libyaml.safe_load = lambda stream: yaml.load(stream, Loader=yaml.CSafeLoader)
    module.yaml = libyaml


@cache
def bundled_models() -> tuple[str, ...]:
    """Hugging Face ids whose configs AI Configurator bundles (usable offline)."""
    from aiconfigurator_core.sdk.common import DefaultHFModels

    return tuple(sorted(DefaultHFModels))


def _enum_name(text: str) -> str:
    return re.sub(r"[^A-Z0-9]+", "_", text.upper()).strip("_")


def resolve_model(name: str) -> str:
    """The bundled Hugging Face id for `name` (an id, or a legacy enum name such as `QWEN3_32B`)."""
    if not name:
        raise ProfilingError("no model to profile: set spec.model (or sweep.aicHfId) to a Hugging Face model id")
    models = bundled_models()
    if name in models:
        return name
    by_lower = {model.lower(): model for model in models}
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    legacy = {_enum_name(model.split("/", 1)[-1]): model for model in models}
    legacy.update({key: value for key, value in _LEGACY_MODEL_NAMES.items() if value in models})
    if _enum_name(name) in legacy:
        return legacy[_enum_name(name)]
    raise ProfilingError(
        f"AI Configurator {aiconfigurator_version()} has no bundled config for model '{name}', and offline "
        f"profiling never downloads one. Set sweep.aicHfId (or aic.model_name) to the closest supported model "
        f"id; supported: {', '.join(models)}"
    )


def _known_systems() -> list[str]:
    names: set[str] = set()
    for root in _sdk().get_systems_paths():
        names.update(path.stem for path in Path(root).glob("*.yaml") if path.stem not in _NON_SYSTEM_YAMLS)
    return sorted(names)


def systems_for_backend(backend: str) -> list[str]:
    """Systems whose bundled database has queryable versions for `backend`."""
    pdb = _sdk()
    return [system for system in _known_systems() if pdb.get_version_slots(system, backend)]


def resolve_system(requested: str | None, backend: str) -> tuple[str, list[str]]:
    """The AI Configurator system name for `requested`, and any warning about how it was read."""
    if requested and _sdk().get_version_slots(requested.strip().lower(), backend):
        return requested.strip().lower(), []
    supported = systems_for_backend(backend)
    if not requested:
        raise ProfilingError(
            "no AI Configurator system given: set sweep.aicSystem (or aic.system, or hardware.gpu_type; in a v1beta1 "
            f"DGDR spec.hardware.gpuSku) to one of the systems with {backend} data: {', '.join(supported)}"
        )
    system = requested.strip().lower()
    if system in supported:
        return system, []
    if f"{system}_sxm" in supported:
        return f"{system}_sxm", [f"AI Configurator system '{requested}' read as '{system}_sxm'"]
    raise ProfilingError(
        f"AI Configurator {aiconfigurator_version()} has no {backend} data for system '{requested}'. "
        f"Set sweep.aicSystem to one of: {', '.join(supported)}"
    )


def _version_key(text: str) -> tuple[int, Version | str]:
    try:
        return (1, Version(text))
    except InvalidVersion:
        return (0, text)


def resolve_version(system: str, backend: str, requested: str | None) -> tuple[str, list[str]]:
    """The bundled database version to use, and a warning when it is not the requested one."""
    slots = _sdk().get_version_slots(system, backend) or {}
    bundled = sorted({version for version in slots.values() if version}, key=_version_key)
    if not bundled:  # resolve_system only returns systems with slots
        raise ProfilingError(f"AI Configurator has no {backend} database for {system}")
    if requested is None:
        return slots["current"], []
    requested = str(requested).strip()
    if requested in VERSION_ALIASES and slots.get(requested):
        return slots[requested], []
    if requested in bundled:
        return requested, []
    below = [version for version in bundled if _version_key(version) <= _version_key(requested)]
    chosen = below[-1] if below else bundled[0]
    return chosen, [
        f"AI Configurator {aiconfigurator_version()} has no {backend} {requested} data for {system}; "
        f"estimates use the closest bundled version {chosen} (bundled: {', '.join(bundled)})"
    ]


def resolve_target(*, system: str | None, backend: str, version: str | None, model: str) -> tuple[AicTarget, list[str]]:
    """Resolve what to estimate; returns the target and the warnings to report."""
    if backend not in ("vllm", "sglang", "trtllm"):
        raise ProfilingError(f"AI Configurator backend '{backend}' is not one of vllm, sglang, trtllm")
    resolved_system, warnings = resolve_system(system, backend)
    resolved_version, version_warnings = resolve_version(resolved_system, backend, version)
    return AicTarget(resolved_system, backend, resolved_version, resolve_model(model)), warnings + version_warnings


def support_matrix_warning(target: AicTarget) -> str | None:
    """A warning when AI Configurator's own support matrix marks this disaggregated setup as failing."""
    import csv

    for root in _sdk().get_systems_paths():
        path = Path(root) / "support_matrix" / f"{target.system}.csv"
        if not path.exists():
            continue
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                if (row["HuggingFaceID"], row["Backend"], row["Version"], row["Mode"]) == (
                    target.model, target.backend, target.version, "disagg"
                ):
                    if row["Status"] in ("PASS", "HYBRID_PASS"):
                        return None
                    message = (row.get("ErrMsg") or "").replace("\\n", "\n").strip()
                    reason = f" ({message.splitlines()[-1][:200]})" if message else ""
                    return (
                        f"AI Configurator's support matrix marks {target.model} disaggregated on {target.system} "
                        f"{target.backend} {target.version} as {row['Status']}{reason}; treat the estimates with care"
                    )
    return None


# --------------------------------------------------------------------------------------------------
# Estimates
# --------------------------------------------------------------------------------------------------


def estimation_failed(error: BaseException) -> bool:
    """Whether `error` is AI Configurator failing on one estimate (missing data, unsupported shape, or a panic
    in its Rust core, which arrives as a `BaseException`) rather than the process being stopped."""
    return not isinstance(error, (KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError))


def describe(error: BaseException) -> str:
    """One short line for a failed estimate."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:200]}" if text else type(error).__name__


@dataclass(frozen=True)
class DecodeEstimate:
    itl_ms: float
    thpt_per_gpu: float


class Estimator:
    """AI Configurator estimates for one target; builds each (mapping, role) model once."""

    def __init__(self, target: AicTarget) -> None:
        from aiconfigurator_core.sdk import utils

        self.target = target
        self._database = _sdk().get_database(target.system, target.backend, target.version)
        if self._database is None:
            raise ProfilingError(
                f"AI Configurator could not load its {target.backend} {target.version} database for {target.system}"
            )
        self._model_info = utils.get_model_config_from_model_path(target.model)
        self._models: dict[tuple[ParallelMapping, EngineRole], Any] = {}

    @cached_property
    def _backend(self) -> Any:
        """AI Configurator's backend (its module imports pandas: a fifth of a second, so only when needed)."""
        from aiconfigurator_core.sdk.backends.factory import get_backend

        return get_backend(self.target.backend)

    @contextmanager
    def preloading(self, engines: Iterable[tuple[ParallelMapping, EngineRole]], isl: int, osl: int) -> Iterator[None]:
        """Load the performance tables that estimating `engines` needs in a background thread while the block runs.

        AI Configurator's Rust core reads each performance table (Parquet) on the first estimate that needs it,
        about half a second for a model's GEMM and attention tables, without holding the GIL; a fresh process
        imports AI Configurator's backend and the caller's remaining modules meanwhile. The block must not use
        this estimator; leaving it waits for the load. Estimates that fail here are left to the sweep, which
        reports them: no result depends on the preload.
        """
        from aiconfigurator_core.sdk import engine  # noqa: F401 - imported here so that the thread imports nothing
        from aiconfigurator_core.sdk.config import RuntimeConfig
        from aiconfigurator_core.sdk.rust_engine_step import estimate_static_latency_breakdown_with_rust

        runs = []
        for mapping, role in engines:
            try:
                model = self._build(mapping, role)
            except BaseException as error:
                if not estimation_failed(error):
                    raise
                continue
            runtime = RuntimeConfig(batch_size=1, beam_width=1, isl=isl, osl=PREFILL_OSL if role == "prefill" else osl)
            runs.append((model, runtime, "static_ctx" if role == "prefill" else "static_gen"))

        def load() -> None:
            # The same entry point `run_static_latency_only` estimates through; the latencies are discarded.
            for model, runtime, mode in runs:
                try:
                    estimate_static_latency_breakdown_with_rust(
                        model, self._database, runtime, mode, STATIC_STRIDE, 1.0
                    )
                except BaseException as error:
                    if not estimation_failed(error):
                        raise

        worker = threading.Thread(target=load, name="aic-preload", daemon=True)
        worker.start()
        try:
            self._backend  # noqa: B018 - imported while the tables load
            yield
        finally:
            worker.join()

    @property
    def gpu_memory_gib(self) -> float:
        return float(self._database.system_spec["gpu"]["mem_capacity"]) / 1024**3

    @property
    def gpus_per_node(self) -> int:
        return int(self._database.system_spec.get("node", {}).get("num_gpus_per_node") or 8)

    def model_shape(self, is_moe_override: bool | None) -> ModelShape:
        info = self._model_info
        architecture = str(info.get("architecture", ""))
        is_moe = architecture in DEEPSEEK_STYLE_MOE_ARCHITECTURES if is_moe_override is None else is_moe_override
        return ModelShape(
            architecture=architecture,
            num_attention_heads=int(info.get("n") or 0),
            num_kv_heads=int(info.get("n_kv") or 0),
            intermediate_size=int(info.get("inter_size") or 0),
            num_experts=int(info.get("num_experts") or 0),
            max_context_length=int(info.get("context") or 0),
            is_moe=is_moe,
            quantization_block_size=quantization_block_size((info.get("raw_config") or {}).get("quantization_config")),
        )

    @property
    def has_experts(self) -> bool:
        return bool(self._model_info.get("num_experts"))

    def weights_gib(self) -> float:
        """Memory the weights take on one GPU with no parallelism."""
        model = self._build(ParallelMapping("TP", 1), "decode")
        return float(self._backend._get_memory_usage(model, self._database, 1, 1, 1, 1)["weights"])

    def _build(self, mapping: ParallelMapping, role: EngineRole) -> Any:
        """AI Configurator's model for this mapping and role, with the quantisation fixes its CLI applies:
        MoE communication, context FMHA (fp8 only where the database has fp8 data), NVFP4 on the system."""
        key = (mapping, role)
        if key not in self._models:
            from aiconfigurator_core.sdk import models
            from aiconfigurator_core.sdk.models.helpers import resolve_context_fmha_by_data, resolve_nvfp4_for_system

            target = self.target
            model_config = self._model_config(mapping, role)
            if role == "prefill":
                # get_model infers the quantisation into the config it is given; probe on a copy. Checking the
                # database's FMHA data loads a large table, so it is done only when fp8 FMHA is in question.
                probe = models.get_model(target.model, self._model_config(mapping, role), target.backend)
                if getattr(probe.config.fmha_quant_mode, "name", None) == "fp8":
                    resolve_context_fmha_by_data(
                        model_config, target.model, self._database, target.backend, is_context_role=True
                    )
            resolve_nvfp4_for_system(model_config, target.system, target.model, backend_name=target.backend)
            self._models[key] = models.get_model(target.model, model_config, target.backend)
        return self._models[key]

    def _model_config(self, mapping: ParallelMapping, role: EngineRole) -> Any:
        from aiconfigurator_core.sdk.config_builders import build_model_config

        model_config = build_model_config(**mapping.aic_parallelism(self.has_experts))
        if mapping.expert_split == 1:  # no expert parallelism: nothing for the MoE communication resolver
            return model_config
        from aiconfigurator.sdk.moe_comm_resolver import resolve_model_config_moe_comm

        resolve_model_config_moe_comm(
            model_config,
            model_path=self.target.model,
            backend_name=self.target.backend,
            database=self._database,
            required_phases=("context",) if role == "prefill" else ("context", "generation"),
        )
        return model_config

    def _latency(self, mapping: ParallelMapping, role: EngineRole, batch_size: int, isl: int, osl: int) -> float:
        from aiconfigurator_core.sdk.config import RuntimeConfig

        runtime = RuntimeConfig(batch_size=batch_size, beam_width=1, isl=isl, osl=osl)
        mode = "static_ctx" if role == "prefill" else "static_gen"
        return float(
            self._backend.run_static_latency_only(
                self._build(mapping, role), self._database, runtime, mode, stride=STATIC_STRIDE
            )
        )

    def prefill_ttft(self, mapping: ParallelMapping, isl: int) -> float:
        """TTFT (ms) of one request of `isl` tokens per attention rank (Dynamo's `context_latency`)."""
        return self._latency(mapping, "prefill", 1, isl, PREFILL_OSL)

    def decode(self, mapping: ParallelMapping, isl: int, osl: int, concurrency: int) -> DecodeEstimate:
        """ITL (ms) and output tokens/s/GPU of the engine at `concurrency` requests (AIC's `tpot` and
        `tokens/s/gpu` of a `static_gen` run; the batch per attention rank is `concurrency / attention_dp`)."""
        batch = max(1, concurrency // mapping.attention_dp_size)
        generation_ms = self._latency(mapping, "decode", batch, isl, osl)
        steps = max(osl - 1, 1)
        itl = generation_ms / steps
        tp, dp = mapping.tp_size, mapping.attention_dp_size
        sequences_per_s = batch * dp / generation_ms * 1000 if generation_ms > 0 else 0.0
        return DecodeEstimate(itl_ms=itl, thpt_per_gpu=sequences_per_s * steps / (tp * dp))

    def memory_gib(self, mapping: ParallelMapping, role: EngineRole, batch_per_rank: int, isl: int, osl: int) -> float:
        """Per-GPU memory (weights, activations, KV cache) at this batch per attention rank."""
        model = self._build(mapping, role)
        return float(self._backend._get_memory_usage(model, self._database, batch_per_rank, 1, isl, osl)["total"])

    def fits(self, mapping: ParallelMapping, role: EngineRole, batch_per_rank: int, isl: int, osl: int) -> bool:
        return self.memory_gib(mapping, role, batch_per_rank, isl, osl) < self.gpu_memory_gib

    def max_batch_per_rank(self, mapping: ParallelMapping, isl: int, osl: int) -> int:
        """Dynamo's `get_max_batch_size`: the largest batch per attention rank whose memory fits (0: none)."""
        if not self.fits(mapping, "decode", 1, isl, osl):
            return 0
        batch = 1
        while self.fits(mapping, "decode", batch, isl, osl) and batch < 1 << 20:
            batch *= 2
        low, high = batch // 2, batch
        while low < high:
            middle = (low + high) // 2
            if self.fits(mapping, "decode", middle, isl, osl):
                low = middle + 1
            else:
                high = middle
        return low - 1
