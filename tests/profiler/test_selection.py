"""Engine selection: the fine concurrency search with a safety margin vs Dynamo's rule, optimizationType, the
Pareto front and replica sizing — on real AI Configurator estimates, plus the pure parts."""

from __future__ import annotations

import math
import random

import pytest

from profiler.config import DEFAULT_ITL_MARGIN, DEFAULT_TTFT_MARGIN, ProfileConfig
from profiler.estimate.sweep import sweep
from profiler.pipeline import _decode_probe, _estimator, _gpu_range
from profiler.estimate.aic import resolve_target
from profiler.selection import SelectionPolicy, pareto_front, select_engines, size_replicas
from profiler.selection.search import boundary_concurrency, probe_concurrencies
from tests.profiler.conftest import load, make_request

# (model, backend, isl, osl, ttft, itl, gpu range): dense and MoE, three backends, tight and loose SLAs.
REQUESTS = [
    ("Qwen/Qwen3-32B", "trtllm", 3000, 150, 500.0, 30.0, None),
    ("Qwen/Qwen3-32B", "trtllm", 3000, 150, 500.0, 10.0, None),
    ("Qwen/Qwen3-32B", "vllm", 4000, 500, 300.0, 20.0, None),
    ("Qwen/Qwen3-32B", "sglang", 1000, 1000, 200.0, 50.0, None),
    ("deepseek-ai/DeepSeek-V3", "sglang", 4000, 500, 1000.0, 50.0, (8, 16)),
]


def _config(model, backend, isl, osl, ttft, itl, gpus, **extra) -> ProfileConfig:
    document = {"sweep": {"useAiConfigurator": True, "aicSystem": "h200_sxm"},
                "sla": {"isl": isl, "osl": osl, "ttft": ttft, "itl": itl}, **extra}
    if gpus:
        document["hardware"] = {"minNumGpusPerEngine": gpus[0], "maxNumGpusPerEngine": gpus[1]}
    return ProfileConfig.model_validate(document).with_request_fields(model=model, backend=backend, namespace="t")


_SWEEPS: dict = {}


def _swept(config: ProfileConfig):
    """The real sweep of a request and its estimator (cached per request)."""
    key = (config.aic_model, config.aic_backend, config.sla, config.hardware)
    if key not in _SWEEPS:
        target, _ = resolve_target(system=config.aic_system, backend=config.aic_backend, version=None,
                                   model=config.aic_model)
        estimator = _estimator(target)
        shape = estimator.model_shape(None)
        counts = _gpu_range(config, estimator, shape, estimator.gpus_per_node)
        _SWEEPS[key] = (sweep(estimator, shape, counts, config.sla.isl, config.sla.osl, 6), estimator)
    return _SWEEPS[key]


def _select(config: ProfileConfig):
    result, estimator = _swept(config)
    policy, _ = SelectionPolicy.from_config(config)
    return select_engines(result, config.sla, policy, _decode_probe(estimator, config.sla.isl, config.sla.osl))


@pytest.mark.parametrize("request_", REQUESTS, ids=lambda r: f"{r[0].split('/')[1]}-{r[1]}-itl{r[5]:g}")
def test_pick_is_never_worse_than_dynamos_rule_and_meets_the_calibrated_sla(request_):
    selection = _select(_config(*request_))
    for ours, dynamo, target in ((selection.prefill, selection.dynamo_prefill, request_[4]),
                                 (selection.decode, selection.dynamo_decode, request_[5])):
        margin = DEFAULT_TTFT_MARGIN if ours.candidate.role == "prefill" else DEFAULT_ITL_MARGIN
        assert ours.within_margin and ours.candidate.latency_ms * (1 + margin) <= target
        if dynamo.candidate.latency_ms * (1 + margin) <= target:  # Dynamo's pick holds under calibration
            assert ours.candidate.thpt_per_gpu >= dynamo.candidate.thpt_per_gpu
        # Dynamo's rule restricted to its grid points that hold under calibration can never beat the pick.
        grid = [p for p in (selection.prefill_points if ours.candidate.role == "prefill" else selection.decode_points)
                if p.source == "sweep" and p.latency_ms * (1 + margin) <= target]
        assert all(ours.candidate.thpt_per_gpu >= p.thpt_per_gpu for p in grid)


def test_tight_itl_finds_far_more_throughput_than_dynamos_grid():
    """Qwen3-32B trtllm at ITL 10 ms: Dynamo's 6-point grid only has concurrency 1 within the SLA."""
    selection = _select(_config(*REQUESTS[1]))
    assert selection.dynamo_decode.candidate.concurrency == 1
    assert selection.decode.candidate.source == "search"
    assert selection.decode.candidate.thpt_per_gpu >= 5 * selection.dynamo_decode.candidate.thpt_per_gpu


@pytest.mark.parametrize("margin", [0.0, 0.08, 0.3])
def test_margin_is_applied(margin):
    config = _config(*REQUESTS[0], selection={"itlMargin": margin, "ttftMargin": margin})
    selection = _select(config)
    assert selection.decode.candidate.latency_ms * (1 + margin) <= 30.0
    assert selection.prefill.candidate.latency_ms * (1 + margin) <= 500.0
    within = [p for p in selection.decode_points if p.latency_ms * (1 + margin) <= 30.0]
    assert selection.decode.candidate.thpt_per_gpu == max(p.thpt_per_gpu for p in within)
    if margin > 0:  # the smallest margin allows the most throughput; a larger one costs some
        loose = _select(_config(*REQUESTS[0], selection={"itlMargin": 0.0}))
        assert loose.decode.candidate.thpt_per_gpu >= selection.decode.candidate.thpt_per_gpu
        assert loose.decode.candidate.latency_ms > selection.decode.candidate.latency_ms


def test_optimization_type_latency_picks_the_lowest_latency_within_the_sla():
    throughput = _select(_config(*REQUESTS[0]))
    latency = _select(_config(*REQUESTS[0], sla={"isl": 3000, "osl": 150, "ttft": 500.0, "itl": 30.0,
                                                "optimizationType": "latency"}))
    for role in ("prefill", "decode"):
        fast, dense = getattr(latency, role), getattr(throughput, role)
        points = latency.prefill_points if role == "prefill" else latency.decode_points
        within = [p for p in points if p.latency_ms * (1 + fast.margin) <= fast.target_ms]
        assert fast.candidate.latency_ms == min(p.latency_ms for p in within)
        assert fast.candidate.latency_ms < dense.candidate.latency_ms
        assert fast.candidate.thpt_per_gpu < dense.candidate.thpt_per_gpu
    assert latency.policy.optimization == "latency"


def test_selection_rule_dynamo_ignores_margins_with_a_warning():
    config = _config(*REQUESTS[0], selection={"rule": "dynamo", "itlMargin": 0.2})
    policy, warnings = SelectionPolicy.from_config(config)
    assert (policy.rule, policy.itl_margin) == ("dynamo", 0.0)
    assert warnings and "selection.itlMargin" in warnings[0]
    selection = _select(config)
    assert selection.decode == selection.dynamo_decode
    assert all(p.source == "sweep" for p in selection.decode_points)


def test_unmet_margin_falls_back_to_the_most_headroom_with_a_warning():
    """ITL 5.2 ms: only TP=8 at low concurrency meets it, and not with an 8 % margin."""
    selection = _select(_config("Qwen/Qwen3-32B", "trtllm", 3000, 150, 500.0, 5.2, None))
    decode = selection.decode
    assert decode.meets_sla and not decode.within_margin
    assert decode.candidate.latency_ms == min(p.latency_ms for p in selection.decode_points)
    assert any("only without the safety margin" in w for w in selection.warnings)


def test_pareto_front_of_real_points_is_non_dominated():
    selection = _select(_config(*REQUESTS[2]))
    for front, points in ((selection.decode_front, selection.decode_points),
                          (selection.prefill_front, selection.prefill_points)):
        assert front == sorted(front, key=lambda p: p.latency_ms)
        for point in front:
            assert not any(o.latency_ms <= point.latency_ms and o.thpt_per_gpu > point.thpt_per_gpu
                           or o.latency_ms < point.latency_ms and o.thpt_per_gpu >= point.thpt_per_gpu
                           for o in points)
        assert selection.decode.candidate in selection.decode_front


def test_pareto_front_property_on_random_points():
    rng = random.Random(7)
    for _ in range(300):
        count = rng.randint(0, 12)
        latencies = [rng.choice([rng.uniform(1, 10), float(rng.randint(1, 4))]) for _ in range(count)]
        throughputs = [rng.choice([rng.uniform(0, 100), float(rng.randint(0, 4))]) for _ in range(count)]
        front = pareto_front(latencies, throughputs)
        for i in range(count):
            point = (latencies[i], throughputs[i])
            dominated = any(latencies[j] <= point[0] and throughputs[j] >= point[1]
                            and (latencies[j], throughputs[j]) != point for j in range(count))
            twin_in_front = any((latencies[j], throughputs[j]) == point for j in front if j != i)
            if i in front:
                assert not dominated and not twin_in_front
            else:
                assert dominated or twin_in_front
    assert pareto_front([1.0, math.nan, 2.0], [5.0, 9.0, 6.0]) == [0, 2]


def test_boundary_concurrency_bisects_to_the_largest_allowed_value():
    calls: list[int] = []

    def itl(concurrency: int) -> float:
        calls.append(concurrency)
        return 5 + concurrency * 0.1

    assert boundary_concurrency(itl, 1, 2000, 10.0) == 50
    assert len(calls) <= 13  # bisection, not a scan
    assert boundary_concurrency(lambda c: 5 + c * 0.1, 8, 2000, 10.0) == 48  # multiples of the DP size
    assert boundary_concurrency(lambda c: 5 + c * 0.1, 1, 30, 10.0) == 30  # the whole range fits
    assert boundary_concurrency(lambda c: 50.0, 1, 30, 10.0) is None
    assert probe_concurrencies(1, 10) == [1, 2, 4, 5, 8, 10]
    assert probe_concurrencies(4, 10) == [4, 8]


def test_default_margins_are_ai_configurators_calibration():
    from aiconfigurator.cli import api

    assert 1 + DEFAULT_ITL_MARGIN == api.DEFAULT_DECODE_LATENCY_CORRECTION_SCALE
    assert 1 + DEFAULT_TTFT_MARGIN == api.DEFAULT_PREFILL_LATENCY_CORRECTION_SCALE


@pytest.mark.parametrize("workload", [{"requestRate": 20}, {"concurrency": 300}])
def test_replicas_sized_for_the_expected_load_meet_it_under_the_curves(run_profile, workload):
    request = make_request("trtllm", extra={"workload": workload, "planner": {"planner_max_gpu_budget": -1}})
    result = run_profile(request)
    config = request.config
    selection = _select(_config(*REQUESTS[0]))
    plan = size_replicas(config.workload, config.sla, selection.prefill.candidate, selection.decode.candidate,
                         selection.policy)
    assert (result.replicas.prefill, result.replicas.decode) == (plan.prefill, plan.decode)
    dgd = load(result, "dgd.yaml")
    services = dgd["spec"]["services"]
    assert (services["TRTLLMPrefillWorker"]["replicas"], services["TRTLLMDecodeWorker"]["replicas"]) == (
        plan.prefill, plan.decode)
    assert plan.prefill > 1  # 1:1 would not carry it
    prefill, decode = selection.prefill.candidate, selection.decode.candidate
    # Prefill: the calibrated capacity of the replicas covers the input tokens.
    assert plan.request_rate * 3000 <= plan.prefill * prefill.thpt_per_gpu * prefill.mapping.num_gpus / 1.1
    # Decode: the requests each engine holds, at its calibrated ITL, fit the chosen concurrency, and the real
    # estimate at that concurrency still meets the SLA with the margin.
    per_engine = plan.decode_concurrency_per_engine(decode, config.sla, decode.latency_ms * 1.08)
    assert per_engine <= decode.concurrency
    _, estimator = _swept(_config(*REQUESTS[0]))
    assert estimator.decode(decode.mapping, 3000, 150, math.ceil(per_engine)).itl_ms * 1.08 <= 30.0
    # With one replica fewer the load would not fit (the counts are the smallest that carry it).
    if plan.decode > 1:
        assert plan.request_rate * 149 * decode.latency_ms * 1.08 / 1000 / (plan.decode - 1) > decode.concurrency
    assert plan.request_rate * 3000 > (plan.prefill - 1) * prefill.thpt_per_gpu * prefill.mapping.num_gpus / 1.1
    assert "Replicas: **" in result.files["report.md"].decode()


def test_replicas_over_the_planner_budget_are_warned(run_profile):
    result = run_profile(make_request("trtllm", extra={"workload": {"requestRate": 20}}))
    assert any("GPU budget of 8" in warning for warning in result.warnings)


def test_without_a_workload_the_base_config_replicas_stay(run_profile):
    result = run_profile(make_request("trtllm"))
    assert result.replicas is None
    services = load(result, "dgd.yaml")["spec"]["services"]
    assert services["TRTLLMPrefillWorker"].get("replicas", 1) == services["TRTLLMDecodeWorker"].get("replicas", 1)


def test_workload_settings_are_checked():
    with pytest.raises(ValueError, match="mutually exclusive"):
        ProfileConfig.model_validate({"workload": {"requestRate": 1, "concurrency": 2}})
    with pytest.raises(ValueError, match="rule"):
        ProfileConfig.model_validate({"selection": {"rule": "fastest"}})
    with pytest.raises(ValueError, match="optimization_type|optimizationType"):
        ProfileConfig.model_validate({"sla": {"optimizationType": "cheap"}})


def test_v1beta1_workload_and_optimization_type_reach_the_profile_config():
    """Dynamo 1.6.1's own 'rapid, with load' example (workload.requestRate 5) sizes replicas."""
    from pathlib import Path

    from gitops_sla.validation import validate_request_file

    example = Path(__file__).resolve().parents[2] / "gitops_sla/examples/dynamo-1.6.1/specs"
    checked = validate_request_file(example / "2_rapid_supported_no_planner_with_load.yaml")
    config = checked.request.to_profile_config()
    assert config.workload.request_rate == 5.0 and config.workload.concurrency is None
    text = (example / "2_rapid_supported_no_planner_with_load.yaml").read_text() + "  optimizationType: latency\n"
    latency = validate_request_file(text.encode(), file="x.yaml").request.to_profile_config()
    assert latency.sla.optimization_type == "latency"


def test_profile_request_load_fields_size_replicas_like_the_config_workload(run_profile):
    """ProfileRequest.request_rate (the reconciler's v1beta1 seam) gives the same replicas as workload.requestRate."""
    via_request = run_profile(make_request("trtllm", request_rate=20.0, optimization_type="throughput"))
    via_config = run_profile(make_request("trtllm", extra={"workload": {"requestRate": 20}}))
    assert via_request.replicas == via_config.replicas and via_request.replicas is not None
    assert via_request.files["dgd.yaml"] == via_config.files["dgd.yaml"]
