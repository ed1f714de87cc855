"""The pure parts: GPU counts, candidates, concurrency ranges, selection, argument edits, planner args, NPZ."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from profiler.config import ProfileConfig
from profiler.interpolation import DecodeSurface, PrefillCurve, to_npz
from profiler.render import args as A
from profiler.render.backends import apply_mapping
from profiler.render.planner import planner_args
from profiler.search_space import (
    ModelShape,
    ParallelMapping,
    auto_gpu_range,
    candidate_mappings,
    gpu_counts,
    quantization_block_size,
)
from profiler.select import pick
from profiler.estimate.sweep import get_num_request_range

DENSE = ModelShape("Qwen3ForCausalLM", 64, 8, 25600, 0, 40960, is_moe=False)
DEEPSEEK = ModelShape("DeepseekV3ForCausalLM", 128, 128, 18432, 256, 163840, is_moe=True)


@pytest.mark.parametrize(
    ("low", "high", "counts"),
    [(1, 8, [1, 2, 4, 8]), (3, 8, [4, 8]), (1, 4, [1, 2, 4]), (6, 48, [8, 16, 32]), (5, 7, []), (1, 0, [])],
)
def test_gpu_counts_are_powers_of_two_within_the_range(low, high, counts):
    assert gpu_counts(low, high) == counts


def test_auto_range_follows_dynamos_discovery_heuristic():
    assert auto_gpu_range(61.0, 141.0, 8, deepseek_style_moe=False) == (1, 8)
    assert auto_gpu_range(640.0, 141.0, 8, deepseek_style_moe=True) == (6, 48)


def test_candidates_dense_moe_and_divisibility():
    assert candidate_mappings(4, DENSE, "prefill") == ([ParallelMapping("TP", 4)], [])
    kept, dropped = candidate_mappings(16, DENSE, "decode")
    assert kept == [] and "8 KV heads are not divisible by TP size 16" in dropped[0]
    assert [m.label for m in candidate_mappings(8, DEEPSEEK, "prefill")[0]] == ["TEP=8", "DEP=8"]
    assert [m.label for m in candidate_mappings(8, DEEPSEEK, "decode")[0]] == ["DEP=8", "TEP=8"]
    dep = ParallelMapping("DEP", 8)
    assert (dep.tp_size, dep.expert_split, dep.attention_dp_size) == (1, 8, 8)
    assert dep.aic_parallelism(True) == {"tp_size": 1, "pp_size": 1, "attention_dp_size": 8, "moe_tp_size": 1, "moe_ep_size": 8}


@pytest.mark.parametrize(
    ("quantization_config", "expected"),
    [
        ({"quant_method": "fp8", "weight_block_size": [128, 128]}, 128),  # DeepSeek-V3, Qwen3-32B-FP8
        ({"weight_block_size": [64, 128]}, 128),  # a list: its largest entry, as Dynamo
        ({"quant_method": "awq", "group_size": 128}, 128),
        ({"q_group_size": 32}, 32),
        ({"block_size": 0, "group_size": 64}, 64),  # first key with a value wins
        ({"quant_method": "fp8"}, 0),  # per-tensor FP8: no block
        (None, 0),
    ],
)
def test_quantization_block_size_is_read_like_dynamos_model_info(quantization_config, expected):
    assert quantization_block_size(quantization_config) == expected


def test_tp_shards_that_split_a_quantization_block_are_dropped():
    """Dynamo's `_validate_intermediate_size`: `(intermediate_size // tp) % quant_block` must be 0 for TP and TEP."""
    fp8_deepseek = ModelShape("DeepseekV3ForCausalLM", 128, 128, 18432, 256, 163840, is_moe=True,
                              quantization_block_size=128)
    assert [m.label for m in candidate_mappings(16, fp8_deepseek, "prefill")[0]] == ["TEP=16", "DEP=16"]
    kept, dropped = candidate_mappings(32, fp8_deepseek, "prefill")
    assert [m.label for m in kept] == ["DEP=32"]  # DEP does not shard the FFN: 18432 / 1 is whole blocks
    assert dropped == ["prefill TEP=32: the intermediate size per TP shard (18432 / 32 = 576) is not a multiple "
                       "of the quantization block size 128"]
    assert [m.label for m in candidate_mappings(32, DEEPSEEK, "prefill")[0]] == ["TEP=32", "DEP=32"]  # no block
    fp8_dense = ModelShape("Qwen3ForCausalLM", 64, 16, 25600, 0, 40960, is_moe=False, quantization_block_size=128)
    assert candidate_mappings(8, fp8_dense, "decode")[0] == [ParallelMapping("TP", 8)]  # 3200 = 25 blocks
    assert candidate_mappings(16, fp8_dense, "decode")[0] == []  # 1600 is not a multiple of 128


@pytest.mark.parametrize(
    ("dp", "capacity", "granularity", "expected"),
    [
        (1, 4, 6, [1, 2, 3, 4]),
        (1, 60, 6, [1, 12, 24, 36, 48, 60]),
        (1, 5000, 6, [1, 400, 800, 1200, 1600, 2000]),
        (8, 40, 6, [8, 16, 24, 32, 40]),
        (8, 80, 6, [8, 16, 32, 48, 64, 80]),
        (8, 400, 6, [8, 80, 160, 240, 320, 400]),
    ],
)
def test_decode_concurrency_range(dp, capacity, granularity, expected):
    values = get_num_request_range(dp, capacity, granularity)
    assert values == expected
    assert all(v % dp == 0 and v <= min(capacity, 2000) for v in values)


def test_selection_rule():
    # highest throughput among points meeting the target; ties go to the first
    assert pick([40, 60, 45, 45], [100, 500, 300, 300], 50).index == 2
    assert pick([40, 60, 45, 45], [100, 500, 300, 300], 50).meets_sla
    # nobody meets it: the lowest latency, flagged
    chosen = pick([70, 60, 65], [1, 2, 3], 50)
    assert (chosen.index, chosen.meets_sla) == (1, False)
    with pytest.raises(ValueError):
        pick([], [], 1)


def test_argument_edits():
    args = ["--model", "a", "--tp=1", "--x", "|", "tee", "log"]
    assert A.set_value(args, "--model", "b")[:2] == ["--model", "b"]
    assert "--tp=4" in A.set_value(args, "--tp", "4")
    assert A.set_value(args, "--dp", "2")[-5:] == ["--dp", "2", "|", "tee", "log"]
    assert A.remove_valued(["--dp", "2", "--dp=3", "--k"], "--dp") == ["--k"]
    assert A.as_list("python3 -m x --flag 'a b'") == ["python3", "-m", "x", "--flag", "a b"]


def test_backend_flags_for_each_mapping():
    vllm = apply_mapping("vllm", ["--model", "m", "--enable-expert-parallel"], ParallelMapping("TP", 2))
    assert vllm == ["--model", "m", "--tensor-parallel-size", "2"]
    vllm_dep = apply_mapping("vllm", ["--model", "m"], ParallelMapping("DEP", 8))
    assert vllm_dep[2:] == ["--tensor-parallel-size", "1", "--data-parallel-size", "8", "--enable-expert-parallel"]
    sglang = apply_mapping("sglang", ["--tp", "1", "--dp", "4", "--enable-dp-attention"], ParallelMapping("TEP", 4))
    assert sglang == ["--tp", "4", "--ep-size", "4"]
    trtllm = apply_mapping("trtllm", ["--override-engine-args", '{"max_batch_size": 8}'], ParallelMapping("TEP", 4))
    assert json.loads(trtllm[1]) == {
        "enable_attention_dp": False, "max_batch_size": 8, "moe_expert_parallel_size": 4, "tensor_parallel_size": 4,
    }


def test_planner_args_render_only_non_defaults_plus_the_request_values():
    config = ProfileConfig.model_validate(
        {"sla": {"ttft": 200, "itl": 20}, "engine": {"backend": "sglang"},
         "planner": {"planner_max_gpu_budget": 8, "planner_no_correction": True, "planner_load_predictor": "arima"}}
    )
    assert planner_args(config, 2, 4, stock=False) == [
        "--backend=sglang", "--ttft=200.0", "--itl=20.0", "--no-correction",
        "--prefill-engine-num-gpu=2", "--decode-engine-num-gpu=4", "--profile-results-dir=/workspace/profiling_results",
    ]


def test_npz_is_reproducible_and_loads_like_numpy_savez():
    curve = PrefillCurve([100, 200, 300], [1.5, 2.5, 3.5], [10.0, 20.0, 30.0])
    surface = DecodeSurface([0.1, 0.2], [350.0, 350.0], [5.0, 6.0], [100.0, 150.0], 1000)
    assert to_npz(curve) == to_npz(curve)
    with np.load(io.BytesIO(to_npz(curve))) as data:
        assert data["prefill_isl"].tolist() == [100, 200, 300] and data["prefill_ttft"].dtype == np.float64
    with np.load(io.BytesIO(to_npz(surface))) as data:
        assert data["max_kv_tokens"].tolist() == [1000] and data["z_itl"].tolist() == [5.0, 6.0]


def test_extracted_dgd_schema_matches_the_vendored_crd():
    from profiler.render.schema import SCHEMA_JSON, crd_schema, schema_json_text

    assert SCHEMA_JSON.read_text() == schema_json_text(crd_schema()), "run write_schema_json()"


def test_support_matrix_failures_become_warnings():
    from profiler.estimate.aic import AicTarget, support_matrix_warning

    assert support_matrix_warning(AicTarget("h200_sxm", "trtllm", "1.3.0rc20", "Qwen/Qwen3-32B")) is None
    warning = support_matrix_warning(AicTarget("h200_sxm", "trtllm", "1.3.0rc20", "deepseek-ai/DeepSeek-V4-Flash"))
    assert "as HW_INCOMPATIBLE (h200_sxm (SM90) does not support FP4" in warning
    failing = support_matrix_warning(AicTarget("h200_sxm", "trtllm", "1.3.0rc20", "deepseek-ai/DeepSeek-V3.2"))
    assert "as FAIL (" in failing and "Traceback" not in failing


def test_estimate_failures_are_told_apart_from_interruptions():
    from profiler.estimate.aic import describe, estimation_failed

    assert estimation_failed(ValueError("no data")) and estimation_failed(BaseException("rust panic"))
    assert not estimation_failed(KeyboardInterrupt()) and not estimation_failed(SystemExit(1))
    assert describe(ValueError("first line\nsecond")) == "ValueError: first line"
