"""Per-backend worker flags: the model to serve and the parallel mapping (Dynamo's config modifiers).

| mapping | vLLM | SGLang | TensorRT-LLM (`--override-engine-args` JSON) |
|---|---|---|---|
| TP=n | `--tensor-parallel-size n` | `--tp n` | `tensor_parallel_size: n` |
| TEP=n | `--tensor-parallel-size n --enable-expert-parallel` | `--tp n --ep-size n` | `tensor_parallel_size: n, moe_expert_parallel_size: n, enable_attention_dp: false` |
| DEP=n | `--data-parallel-size n --enable-expert-parallel` | `--tp n --dp n --enable-dp-attention --ep-size n` | `tensor_parallel_size: n, moe_expert_parallel_size: n, enable_attention_dp: true` |

SGLang's rows are Dynamo's; Dynamo has no TEP/DEP for vLLM and TensorRT-LLM ("MoE 🚧"), so those rows use
the engines' own expert-parallel options.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from profiler.errors import ProfilingError
from profiler.render import args as A
from profiler.search_space import ParallelMapping


@dataclass(frozen=True)
class WorkerNames:
    """Dynamo's default service keys of the prefill and decode workers (planner `WORKER_COMPONENT_NAMES`)."""

    prefill: str
    decode: str


WORKER_NAMES = {
    "vllm": WorkerNames("VllmPrefillWorker", "VllmDecodeWorker"),
    "sglang": WorkerNames("prefill", "decode"),
    "trtllm": WorkerNames("TRTLLMPrefillWorker", "TRTLLMDecodeWorker"),
}


def set_model(backend: str, args: list[str], model: str, keep_model_path: bool, weights: str | None = None) -> list[str]:
    """Serve `model`. With `weights` (a model cache's directory), the weights are read from there and served
    under the name `model`; else with `keep_model_path` (a user's base config), an existing weights path is kept
    and only the served name changes, as Dynamo's `update_model` does for model caches."""
    if weights:
        flag = "--model" if backend == "vllm" else "--model-path"
        return A.set_value(A.set_value(args, flag, weights), "--served-model-name", model)
    if backend == "vllm":
        if keep_model_path and A.get_value(args, "--model") not in (None, model):
            return A.set_value(args, "--served-model-name", model)
        return A.set_value(args, "--model", model)
    if not (keep_model_path and A.get_value(args, "--model-path") is not None):
        args = A.set_value(args, "--model-path", model)
    return A.set_value(args, "--served-model-name", model)


def apply_mapping(backend: str, args: list[str], mapping: ParallelMapping) -> list[str]:
    """Worker args with the parallel mapping applied."""
    if backend == "vllm":
        return _vllm(args, mapping)
    if backend == "sglang":
        return _sglang(args, mapping)
    if backend == "trtllm":
        return _trtllm(args, mapping)
    raise ProfilingError(f"unknown backend '{backend}'")


def _vllm(args: list[str], mapping: ParallelMapping) -> list[str]:
    size = str(mapping.size)
    args = A.remove_valued(A.remove_switch(args, "--enable-expert-parallel"), "--data-parallel-size")
    if mapping.kind == "DEP":
        args = A.set_value(args, "--tensor-parallel-size", "1")
        args = A.set_value(args, "--data-parallel-size", size)
    else:
        args = A.set_value(args, "--tensor-parallel-size", size)
    return A.set_switch(args, "--enable-expert-parallel") if mapping.kind != "TP" else args


def _sglang(args: list[str], mapping: ParallelMapping) -> list[str]:
    size = str(mapping.size)
    args = A.set_value(args, "--tp", size)
    args = A.remove_switch(A.remove_valued(args, "--dp"), "--enable-dp-attention")
    args = A.remove_valued(args, "--ep-size")
    if mapping.kind == "DEP":
        args = A.set_switch(A.set_value(args, "--dp", size), "--enable-dp-attention")
    if mapping.kind != "TP":
        args = A.set_value(args, "--ep-size", size)
    return args


def _trtllm(args: list[str], mapping: ParallelMapping) -> list[str]:
    raw = A.get_value(args, "--override-engine-args")
    try:
        overrides = json.loads(raw) if raw else {}
    except json.JSONDecodeError as error:
        raise ProfilingError(
            f"the base config's --override-engine-args is not JSON ({error}); fix it in the base config"
        ) from error
    if not isinstance(overrides, dict):
        raise ProfilingError("the base config's --override-engine-args must be a JSON object")
    overrides["tensor_parallel_size"] = mapping.size
    for key in ("moe_expert_parallel_size", "enable_attention_dp"):
        overrides.pop(key, None)
    if mapping.kind != "TP":
        overrides["moe_expert_parallel_size"] = mapping.size
        overrides["enable_attention_dp"] = mapping.kind == "DEP"
    return A.set_value(args, "--override-engine-args", json.dumps(overrides, sort_keys=True))
