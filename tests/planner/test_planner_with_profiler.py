"""The profiler's real output (AI Configurator, the quick-start's AIC sample) fed to the planner unchanged:
the profile data loads in both of Dynamo's forms, the Planner service args of the rendered DGD parse, and a
planning step sizes the engines the profiler chose."""

import logging
import math

import pytest
import yaml

profiler = pytest.importorskip("profiler.pipeline")

from planner.args import parse_args  # noqa: E402
from planner.interpolation import DecodeInterpolator, PrefillInterpolator  # noqa: E402
from planner.policy import CorrectionFactors, Interpolators, Load, PolicyConfig, decide  # noqa: E402
from planner.profile_data import load_profile_data  # noqa: E402
from planner.prometheus import Observation  # noqa: E402
from profiler import ProfileRequest, profile  # noqa: E402
from profiler.config import ProfileConfig  # noqa: E402

SLA = {"isl": 3000, "osl": 150, "ttft": 500.0, "itl": 30.0}


@pytest.fixture(scope="module")
def result():
    logging.getLogger("aiconfigurator").setLevel(logging.ERROR)
    logging.getLogger("aiconfigurator_core").setLevel(logging.ERROR)
    config = ProfileConfig.model_validate(
        {"sweep": {"useAiConfigurator": True, "aicSystem": "h200_sxm"}, "sla": SLA}
    ).with_request_fields(model="Qwen/Qwen3-32B", backend="trtllm", namespace="team-a", workers_image=None)
    return profile(ProfileRequest(config=config, request_name="sla-aic", request_namespace="team-a"))


def write(result, directory):
    for path, data in result.files.items():
        target = directory / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return directory


def test_profiler_output_drives_a_planning_step(result, tmp_path):
    out = write(result, tmp_path / "out")
    from_npz = load_profile_data(out)
    for name in ("selected_prefill_interpolation", "selected_decode_interpolation"):
        (out / name / "raw_data.npz").unlink()
    from_json = load_profile_data(out)  # the ConfigMap-mount form
    assert from_json.sources[0].endswith("prefill_raw_data.json")
    assert from_json.prefill.isl.tolist() == from_npz.prefill.isl.tolist()
    interpolators = Interpolators(PrefillInterpolator(from_json.prefill), DecodeInterpolator(from_json.decode))
    # the profiled curve reproduces the profiler's own TTFT estimate at the SLA's ISL
    assert interpolators.prefill.ttft_ms(SLA["isl"]) == pytest.approx(result.prefill.latency_ms, rel=0.1)

    dgd = yaml.safe_load(result.files["dgd.yaml"])
    (planner_service,) = [s for s in dgd["spec"]["services"].values() if s.get("componentType") == "planner"]
    args = planner_service["extraPodSpec"]["mainContainer"]["args"]
    settings = parse_args([a for a in args if a.startswith("--")], env={})
    assert settings.prefill_engine_num_gpu == result.prefill.num_gpus
    assert settings.decode_engine_num_gpu == result.decode.num_gpus
    assert (settings.ttft, settings.itl) == (SLA["ttft"], SLA["itl"])

    # 20 req/s at the SLA's ISL/OSL: prefill replicas by hand from the profiled throughput
    config = PolicyConfig(adjustment_interval=60, itl_ms=settings.itl, max_gpu_budget=-1,
                          prefill_engine_num_gpu=settings.prefill_engine_num_gpu,
                          decode_engine_num_gpu=settings.decode_engine_num_gpu)
    observed = Observation(num_req=1200, isl=3000, osl=150, ttft_ms=None, itl_ms=None, request_duration_s=None,
                           window_s=60)
    decision, _ = decide(config, interpolators, observed, Load(1200, 3000, 150), CorrectionFactors(), None, (), 0)
    prefill_thpt = interpolators.prefill.thpt_per_gpu(3000)
    assert decision.prefill_replicas == max(1, math.ceil(1200 * 3000 / 60 / prefill_thpt / config.prefill_engine_num_gpu))
    best = interpolators.decode.find_best_throughput_per_gpu(settings.itl, 3000 + 75)
    assert best.itl_ms <= settings.itl
    assert decision.decode_replicas == max(1, math.ceil(1200 * 150 / 60 / best.thpt_per_gpu / config.decode_engine_num_gpu))
