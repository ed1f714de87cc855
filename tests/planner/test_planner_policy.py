"""Each decision checked against values computed by hand from Dynamo's formulas (dynamo-reference §4.5-4.8)."""

import math

import pytest

import planner_profiles as profiles
from planner.interpolation import DecodeInterpolator, PrefillInterpolator
from planner.policy import (CorrectionFactors, Interpolators, Load, PolicyConfig, Replicas, apply_gpu_budget,
                            correction_factors, decide, dynamo_replicas, limit_step, stabilize)
from planner.profile_data import load_profile_data
from planner.prometheus import Observation

STEP_Y = profiles.MAX_CONTEXT / 99


@pytest.fixture
def interp(json_profile):
    data = load_profile_data(json_profile)
    return Interpolators(PrefillInterpolator(data.prefill), DecodeInterpolator(data.decode))


def obs(num_req, isl=2048, osl=256, ttft=300.0, itl=12.0, duration=4.0, window=180):
    return Observation(num_req=num_req, isl=isl, osl=osl, ttft_ms=ttft, itl_ms=itl, request_duration_s=duration,
                       window_s=window)


def test_correction_factors_by_hand(interp):
    o = obs(9000)
    factors = correction_factors(o, interp, decode_workers=10, interval=180)
    # prefill: 300 / TTFT(2048) = 300 / (20 + 20.48)
    assert factors.prefill == pytest.approx(300 / 40.48)
    # decode: concurrency = 9000 / 10 * 4 / 180 = 20; ctx = 2048 + 128 = 2176; kv = 20 * 2176 / 100000 = 0.4352
    ix = round(0.4352 * 99)  # 43
    assert factors.decode == pytest.approx(12.0 / (5 + 20 * ix / 99), rel=1e-6)
    assert correction_factors(o, interp, decode_workers=None, interval=180).decode is None


def test_dynamo_replica_formulas_by_hand(interp):
    config = PolicyConfig(adjustment_interval=180, itl_ms=10.0, max_gpu_budget=-1)
    load = Load(num_req=9000, isl=2048, osl=256)
    rec = dynamo_replicas(load, CorrectionFactors(prefill=0.5, decode=0.48), interp, config)
    # prefill: 9000 * 2048 / 180 * min(1, 0.5) = 51200 tokens/s over 2048 / 40.48 * 1000 tokens/s/GPU
    assert rec.details["pred_prefill_tokens_per_s"] == pytest.approx(51200)
    assert rec.replicas.prefill == math.ceil(51200 / (2048 / 40.48 * 1000))  # 2
    # decode: corrected ITL 10 / 0.48 = 20.83 -> kv <= 0.7917 -> ix = 78; ctx row iy = round(2176 / STEP_Y) = 27
    thpt = 100 + 1000 * 78 / 99 + 0.01 * 27 * STEP_Y
    assert rec.details["decode_thpt_per_gpu"] == pytest.approx(thpt, abs=1e-3)
    assert rec.replicas.decode == math.ceil(9000 * 256 / 180 / thpt)  # 15
    assert rec.replicas == Replicas(2, 15)


def test_prefix_cache_discount_sizes_prefill_for_uncached_tokens(interp):
    """102400 prompt tokens/s need 3 replicas at 2048 / 40.48 * 1000 tokens/s/GPU; with 40 % from the prefix cache,
    61440 need 2. Off by default (Dynamo 0.8's formula), no hit rate = no discount, at most 95 %."""
    load = Load(num_req=9000, isl=2048, osl=256)
    on = PolicyConfig(adjustment_interval=180, itl_ms=10.0, max_gpu_budget=-1, prefix_cache_discount=True)
    off = PolicyConfig(adjustment_interval=180, itl_ms=10.0, max_gpu_budget=-1)
    thpt = 2048 / 40.48 * 1000
    assert dynamo_replicas(load, CorrectionFactors(), interp, on, kv_hit_rate=0.4).replicas.prefill == \
        math.ceil(61440 / thpt) == 2
    assert dynamo_replicas(load, CorrectionFactors(), interp, off, kv_hit_rate=0.4).replicas.prefill == 3
    assert dynamo_replicas(load, CorrectionFactors(), interp, on, kv_hit_rate=None).replicas.prefill == 3
    full = dynamo_replicas(load, CorrectionFactors(), interp, on, kv_hit_rate=1.0)
    assert full.details["pred_prefill_tokens_per_s"] == pytest.approx(102400 * 0.05)
    # decide() takes the hit rate from the observation
    observation = Observation(num_req=9000, isl=2048, osl=256, ttft_ms=None, itl_ms=None, request_duration_s=None,
                              window_s=180, kv_hit_rate=0.4)
    decision, _ = decide(on, interp, observation, load, CorrectionFactors(), None, (), 0.0)
    assert decision.prefill_replicas == 2


def test_prefill_correction_only_discounts(interp):
    config = PolicyConfig(adjustment_interval=180, itl_ms=10.0, max_gpu_budget=-1)
    load = Load(num_req=9000, isl=2048, osl=256)
    inflated = dynamo_replicas(load, CorrectionFactors(prefill=7.4), interp, config)
    plain = dynamo_replicas(load, CorrectionFactors(), interp, config)
    assert inflated.details["pred_prefill_tokens_per_s"] == plain.details["pred_prefill_tokens_per_s"] == 102400
    assert inflated.replicas.prefill == math.ceil(102400 / (2048 / 40.48 * 1000)) == 3


def test_engine_gpus_divide_replicas(interp):
    config = PolicyConfig(adjustment_interval=180, itl_ms=10.0, max_gpu_budget=-1, prefill_engine_num_gpu=2,
                          decode_engine_num_gpu=4)
    rec = dynamo_replicas(Load(9000, 2048, 256), CorrectionFactors(), interp, config)
    # uncorrected ITL 10 -> kv <= 0.25 -> ix = 24
    thpt = 100 + 1000 * 24 / 99 + 0.01 * 27 * STEP_Y
    assert rec.replicas == Replicas(math.ceil(102400 / (2048 / 40.48 * 1000) / 2), math.ceil(12800 / thpt / 4))


@pytest.mark.parametrize("wanted, budget, gpus, expected", [
    # total 2*1 + 15*1 = 17 > 8: s = 8/17; max_prefill = 8 - 1 = 7; p = max(1, min(7, floor(2*8/17)=0)) = 1;
    # d = max(1, floor((8 - 1) / 1)) = 7
    (Replicas(2, 15), 8, (1, 1), Replicas(1, 7)),
    # 6*2 + 6*2 = 24 > 16: s = 2/3; max_prefill = (16 - 2) // 2 = 7; p = min(7, floor(4)) = 4; d = (16 - 8) // 2 = 4
    (Replicas(6, 6), 16, (2, 2), Replicas(4, 4)),
    (Replicas(3, 3), 8, (1, 1), Replicas(3, 3)),      # within budget: unchanged
    (Replicas(30, 30), -1, (1, 1), Replicas(30, 30)),  # -1: no budget
])
def test_gpu_budget_by_hand(wanted, budget, gpus, expected):
    config = PolicyConfig(adjustment_interval=60, itl_ms=10, max_gpu_budget=budget, prefill_engine_num_gpu=gpus[0],
                          decode_engine_num_gpu=gpus[1])
    assert apply_gpu_budget(wanted, config) == expected


def test_budget_below_minimums_holds(interp):
    config = PolicyConfig(adjustment_interval=180, itl_ms=10.0, max_gpu_budget=3, prefill_engine_num_gpu=2,
                          decode_engine_num_gpu=2)
    assert apply_gpu_budget(Replicas(1, 1), config) is None
    decision, _ = decide(config, interp, obs(9000), Load(9000, 2048, 256), CorrectionFactors(), Replicas(2, 2), (), 0)
    assert decision.action == "hold" and (decision.prefill_replicas, decision.decode_replicas) == (2, 2)
    assert "--max-gpu-budget" in decision.reason


def test_stabilisation_and_step_limits():
    current = Replicas(5, 5)
    history = ((0.0, Replicas(4, 6)), (60.0, Replicas(3, 2)))
    # scale-down only to the highest recent recommendation; scale-up at once
    assert stabilize(Replicas(1, 8), current, history) == Replicas(4, 8)
    assert stabilize(Replicas(1, 1), current, ()) == Replicas(1, 1)
    assert limit_step(Replicas(1, 9), current, 2) == Replicas(3, 7)
    assert limit_step(Replicas(1, 9), current, 0) == Replicas(1, 9)
    assert limit_step(Replicas(1, 9), None, 2) == Replicas(1, 9)


def test_min_max_per_role_clamp_the_formula(interp):
    config = PolicyConfig(adjustment_interval=180, itl_ms=10.0, max_gpu_budget=-1, min_prefill=3, max_decode=4)
    decision, _ = decide(config, interp, obs(9000), Load(9000, 2048, 256), CorrectionFactors(), None, (), 0.0)
    # the formula gives prefill 3 and decode ceil(12800 / 364.2) = 36 (uncorrected ITL 10 ms); max decode is 4
    assert (decision.prefill_replicas, decision.decode_replicas) == (3, 4)


def test_zero_traffic_scales_down_after_the_stabilisation_window(interp):
    config = PolicyConfig(adjustment_interval=60, itl_ms=10.0, max_gpu_budget=-1, scale_down_stabilization_s=300)
    current = Replicas(4, 6)
    history = ((0.0, current),)
    forecast = Load(num_req=3000, isl=2048, osl=256)  # a stale forecast must not keep replicas up at zero traffic
    seen = []
    for k in range(1, 7):
        now = 60.0 * k
        decision, history = decide(config, interp, obs(0, isl=None, osl=None, ttft=None, itl=None, duration=None,
                                                       window=60), forecast, CorrectionFactors(), current, history, now)
        seen.append((decision.prefill_replicas, decision.decode_replicas, decision.action))
        current = Replicas(decision.prefill_replicas, decision.decode_replicas)
    # the (4, 6) recommendation at t=0 holds the replicas while younger than 300 s; at t=300 it has expired
    assert seen[:4] == [(4, 6, "no_change")] * 4
    assert seen[4] == (1, 1, "scale_down")
    assert seen[5] == (1, 1, "no_change")


def test_zero_traffic_with_max_step_walks_down(interp):
    config = PolicyConfig(adjustment_interval=60, itl_ms=10.0, max_gpu_budget=-1, scale_down_stabilization_s=0,
                          max_step=2)
    current, history, trail = Replicas(4, 6), (), []
    for k in range(4):
        decision, history = decide(config, interp, obs(0, window=60), Load(0, None, None), CorrectionFactors(),
                                   current, history, 60.0 * k)
        current = Replicas(decision.prefill_replicas, decision.decode_replicas)
        trail.append((current.prefill, current.decode))
    assert trail == [(2, 4), (1, 2), (1, 1), (1, 1)]


def test_gpu_budget_holds_after_per_role_stabilisation(interp):
    """6P/1D (2-GPU decode engines) fills a budget of 8; a later 3P/2D recommendation must not become 6P/2D
    (stabilisation keeps prefill at its window high while decode goes up): 10 GPUs over the budget."""
    config = PolicyConfig(adjustment_interval=180, itl_ms=10.0, decode_engine_num_gpu=2, max_gpu_budget=8,
                          scale_down_stabilization_s=600)
    current = Replicas(6, 1)
    history = ((0.0, current),)
    factors = CorrectionFactors()
    # 3 prefill replicas' worth of prefill and 2 decode replicas' worth of decode
    prefill_thpt = interp.prefill.thpt_per_gpu(2048)
    decode_best = interp.decode.find_best_throughput_per_gpu(10.0, 2048 + 128).thpt_per_gpu
    num_req = 2.5 * prefill_thpt * 180 / 2048
    osl = 1.5 * 2 * decode_best * 180 / num_req
    load = Load(num_req=num_req, isl=2048, osl=osl)
    plain = dynamo_replicas(load, factors, interp, config).replicas
    assert plain == Replicas(3, 2)
    decision, _ = decide(config, interp, obs(num_req, osl=osl), load, factors, current, history, 180.0)
    final = Replicas(decision.prefill_replicas, decision.decode_replicas)
    assert final.gpus(config) <= 8
    assert final.decode == 2


def test_prefill_utilization_leaves_room_for_queueing(interp):
    load = Load(num_req=9000, isl=2048, osl=256)
    plain = dynamo_replicas(load, CorrectionFactors(), interp, PolicyConfig(adjustment_interval=180, itl_ms=10.0))
    half = dynamo_replicas(load, CorrectionFactors(), interp,
                           PolicyConfig(adjustment_interval=180, itl_ms=10.0, prefill_utilization=0.5))
    # 102400 prefill tokens/s over 2048 / 40.48 * 1000 tokens/s/GPU = 2.02 GPUs; at half of it, 4.05
    assert (plain.replicas.prefill, half.replicas.prefill) == (3, 5)
    assert half.replicas.decode == plain.replicas.decode

