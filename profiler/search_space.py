"""Search space: GPU counts per engine and the parallel mappings swept for each (Dynamo's rules).

GPU counts are the powers of two within `[min, max]`. A dense model (and any MoE model that is not
DeepSeek-style MLA+MoE) gets one candidate per count, `TP=n`; a DeepSeek-style MoE model gets `TEP=n` and
`DEP=n` (prefill tries TEP first, decode DEP first). Candidates whose sizes do not divide the model's heads,
experts or intermediate size, or whose intermediate-size shard splits a quantisation block (FP8 block
quantisation: `(intermediate_size // tp) % block`), are dropped, as Dynamo's `parallelization_mapping.py` does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

MappingKind = Literal["TP", "TEP", "DEP"]
EngineRole = Literal["prefill", "decode"]

# Dynamo treats only these architectures as MoE for TEP/DEP sweeps (MLA + MoE).
DEEPSEEK_STYLE_MOE_ARCHITECTURES = frozenset({"DeepseekV3ForCausalLM", "DeepseekV32ForCausalLM"})
# Where Dynamo's `model_info.py` reads a quantisation block size, first found wins.
QUANTIZATION_BLOCK_KEYS = ("weight_block_size", "block_size", "group_size", "q_group_size")
# Dynamo's GPU-discovery heuristics: weights may use 90% of a GPU; MoE engines may span 8x the minimum.
MODEL_GPU_MEMORY_FRACTION = 0.9
MOE_MAX_GPU_FACTOR = 8


@dataclass(frozen=True)
class ModelShape:
    """What the search space needs to know about a model."""

    architecture: str
    num_attention_heads: int
    num_kv_heads: int
    intermediate_size: int
    num_experts: int
    max_context_length: int
    is_moe: bool
    quantization_block_size: int = 0  # 0: not block-quantised (or unknown)


@dataclass(frozen=True, order=True)
class ParallelMapping:
    """One way to spread an engine over `size` GPUs."""

    kind: MappingKind
    size: int

    @property
    def label(self) -> str:
        """Dynamo's label, e.g. `TP=4`."""
        return f"{self.kind}={self.size}"

    @property
    def num_gpus(self) -> int:
        return self.size

    @property
    def tp_size(self) -> int:
        """Attention tensor-parallel size (TP and TEP: n; DEP: 1)."""
        return 1 if self.kind == "DEP" else self.size

    @property
    def expert_split(self) -> int:
        """How many ways the experts are split (TEP and DEP: n; TP: 1)."""
        return 1 if self.kind == "TP" else self.size

    @property
    def attention_dp_size(self) -> int:
        """Attention data-parallel ranks (DEP: n; otherwise 1)."""
        return self.size if self.kind == "DEP" else 1

    def aic_parallelism(self, model_is_moe: bool) -> dict[str, int]:
        """The AI Configurator `ModelConfig` sizes for this mapping."""
        sizes = {"tp_size": self.tp_size, "pp_size": 1, "attention_dp_size": self.attention_dp_size}
        if self.kind == "TP":
            # A TP engine shards every expert the same way as the dense layers.
            sizes.update(moe_tp_size=self.size if model_is_moe else 1, moe_ep_size=1)
        else:
            sizes.update(moe_tp_size=1, moe_ep_size=self.size)
        return sizes


def quantization_block_size(quantization_config: Any) -> int:
    """The quantisation block size of a Hugging Face `quantization_config`, as Dynamo's `model_info.py` reads
    it: the first of `weight_block_size`, `block_size`, `group_size`, `q_group_size`; the largest entry of a list
    (`[128, 128]` -> 128); 0 when there is none."""
    if not isinstance(quantization_config, dict):
        return 0
    value = next((quantization_config[key] for key in QUANTIZATION_BLOCK_KEYS if quantization_config.get(key)), None)
    if isinstance(value, list):
        value = max(value) if value else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def gpu_counts(min_gpus: int, max_gpus: int) -> list[int]:
    """Powers of two within `[min_gpus, max_gpus]` (Dynamo's `profile_num_gpus`)."""
    if max_gpus < 1:
        return []
    return [2**i for i in range(int(math.log2(max_gpus)) + 1) if min_gpus <= 2**i <= max_gpus]


def auto_gpu_range(
    weights_gib: float, gpu_memory_gib: float, gpus_per_node: int, deepseek_style_moe: bool
) -> tuple[int, int]:
    """Dynamo's GPU-discovery range: the fewest GPUs whose memory holds the weights, up to one node
    (dense) or `max(8 x min, gpus_per_node)` GPUs (MoE)."""
    min_gpus = max(1, math.ceil(weights_gib / MODEL_GPU_MEMORY_FRACTION / gpu_memory_gib))
    max_gpus = max(min_gpus * MOE_MAX_GPU_FACTOR, gpus_per_node) if deepseek_style_moe else gpus_per_node
    return min_gpus, max_gpus


def candidate_mappings(num_gpus: int, model: ModelShape, role: EngineRole) -> tuple[list[ParallelMapping], list[str]]:
    """The mappings tried on `num_gpus` GPUs, and a note for each one dropped by a divisibility rule."""
    if model.is_moe:
        order: tuple[MappingKind, ...] = ("TEP", "DEP") if role == "prefill" else ("DEP", "TEP")
    else:
        order = ("TP",)
    kept: list[ParallelMapping] = []
    dropped: list[str] = []
    for kind in order:
        mapping = ParallelMapping(kind, num_gpus)
        reason = _divisibility_problem(mapping, model)
        if reason:
            dropped.append(f"{role} {mapping.label}: {reason}")
        else:
            kept.append(mapping)
    return kept, dropped


def _divisibility_problem(mapping: ParallelMapping, model: ModelShape) -> str | None:
    tp = mapping.tp_size
    if model.num_attention_heads and model.num_attention_heads % tp:
        return f"{model.num_attention_heads} attention heads are not divisible by TP size {tp}"
    if model.num_kv_heads and model.num_kv_heads % tp:
        return f"{model.num_kv_heads} KV heads are not divisible by TP size {tp}"
    if model.num_experts and model.num_experts % mapping.expert_split:
        return f"{model.num_experts} experts are not divisible by expert split {mapping.expert_split}"
    if model.intermediate_size and model.intermediate_size % tp:
        return f"intermediate size {model.intermediate_size} is not divisible by TP size {tp}"
    block = model.quantization_block_size
    if model.intermediate_size and block > 1 and tp > 1 and (model.intermediate_size // tp) % block:
        return (f"the intermediate size per TP shard ({model.intermediate_size} / {tp} = "
                f"{model.intermediate_size // tp}) is not a multiple of the quantization block size {block}")
    return None
