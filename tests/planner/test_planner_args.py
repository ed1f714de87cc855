import logging

import pytest

from planner.args import UsageError, parse_args
from profiler.planner_flags import PLANNER_FLAGS

# The args Dynamo's profiler renders into a DGD's Planner service (dynamo-reference §3.14), unchanged.
DYNAMO_ARGS = ["--environment=kubernetes", "--backend=vllm", "--adjustment-interval=60", "--ttft=200.0",
               "--itl=20.0", "--load-predictor=kalman", "--no-correction", "--max-gpu-budget=16",
               "--prefill-engine-num-gpu=2", "--decode-engine-num-gpu=4",
               "--profile-results-dir=/workspace/profiling_results", "--min-endpoint=2",
               "--metric-pulling-prometheus-endpoint=http://prom.monitoring:9090", "--model-name=Qwen/Qwen3-0.6B",
               "--namespace=dynamo-ns"]


def test_dynamo_rendered_args_work_unchanged():
    s = parse_args(DYNAMO_ARGS, env={})
    assert (s.adjustment_interval, s.ttft, s.itl, s.load_predictor) == (60, 200.0, 20.0, "kalman")
    assert (s.prefill_engine_num_gpu, s.decode_engine_num_gpu, s.max_gpu_budget) == (2, 4, 16)
    assert s.no_correction and s.namespace == "dynamo-ns" and s.model_name == "Qwen/Qwen3-0.6B"
    assert (s.min_prefill_replicas, s.min_decode_replicas) == (2, 2)
    assert s.mode == "advisory" and s.scale_down_stabilization == 300


def test_every_table_flag_is_accepted():
    parse_args([f"--{flag.name}" for flag in PLANNER_FLAGS if flag.kind == "bool" and flag.name != "once"], env={})


def test_dynamo_disagg_mode_is_read_as_patch_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING):
        s = parse_args(["--mode=disagg"], env={"DYN_PARENT_DGD_K8S_NAME": "llm", "POD_NAMESPACE": "team"})
    assert s.mode == "patch" and s.dgd_name == "llm" and s.kube_namespace == "team"
    assert "Dynamo's planning mode" in caplog.text


@pytest.mark.parametrize("mode", ["prefill", "decode", "agg"])
def test_single_component_modes_are_refused_clearly(mode):
    with pytest.raises(UsageError, match=f"--mode={mode} is Dynamo's single-component planning mode"):
        parse_args([f"--mode={mode}"], env={})


def test_no_operation_and_virtual_mean_advisory():
    assert parse_args(["--mode=patch", "--no-operation"], env={}).mode == "advisory"
    assert parse_args(["--mode=patch", "--environment=virtual"], env={}).mode == "advisory"


def test_prophet_falls_back_to_arima(caplog):
    with caplog.at_level(logging.WARNING):
        assert parse_args(["--load-predictor=prophet"], env={}).load_predictor == "arima"
    assert "prophet" in caplog.text


def test_environment_defaults_as_dynamo():
    s = parse_args([], env={"PROMETHEUS_ENDPOINT": "http://127.0.0.1:9999", "DYN_NAMESPACE": "dyn",
                            "PLANNER_PROMETHEUS_PORT": "9085"})
    assert (s.prometheus_endpoint, s.namespace, s.metrics_port) == ("http://127.0.0.1:9999", "dyn", 9085)
    s = parse_args(["--metric-pulling-prometheus-endpoint=http://127.0.0.1:1"], env={"PROMETHEUS_ENDPOINT": "x"})
    assert s.prometheus_endpoint == "http://127.0.0.1:1"


@pytest.mark.parametrize("argv, words", [
    (["--mode=git"], "--git-repo"),
    (["--min-prefill-replicas=3", "--max-prefill-replicas=2"], "below the minimum"),
    (["--adjustment-interval=0"], "--adjustment-interval must be a positive"),
    (["--max-step=-1"], "--max-step"),
])
def test_unusable_combinations_say_what_to_change(argv, words):
    with pytest.raises(UsageError, match=words):
        parse_args(argv, env={})


def test_bool_flag_accepts_explicit_false():
    assert parse_args(["--no-correction=false"], env={}).no_correction is False


def test_other_dynamo_versions_flags_are_ignored_with_a_warning_but_typos_fail(caplog):
    with caplog.at_level(logging.WARNING):
        s = parse_args(["--enable-loadbased-scaling", "--loadbased-adjustment-interval=5", "--isl=3000",
                        "--ttft=100"], env={})
    assert s.ttft == 100.0
    assert "--enable-loadbased-scaling --loadbased-adjustment-interval=5 --isl=3000" in caplog.text
    with pytest.raises(SystemExit):
        parse_args(["--ttf=100"], env={})


def test_prefill_utilization_and_auto_predictor():
    from planner.core import config_from_settings

    s = parse_args(["--prefill-utilization=0.35", "--load-predictor=auto"], env={})
    assert config_from_settings(s).prefill_utilization == 0.35 and s.load_predictor == "auto"
    assert config_from_settings(parse_args([], env={})).prefill_utilization == 1.0  # Dynamo's sizing
    for bad in ("0", "1.5"):
        with pytest.raises(UsageError, match="--prefill-utilization must be above 0 and at most 1"):
            parse_args([f"--prefill-utilization={bad}"], env={})


def test_request_planner_settings_reach_the_planner():
    """The replay's chosen settings, put in a request's profile config, are rendered and parsed back."""
    from planner.core import config_from_settings
    from profiler.config import ProfileConfig
    from profiler.render.planner import planner_args

    config = ProfileConfig.model_validate({
        "deployment": {"model": "Qwen/Qwen3-32B"}, "engine": {"backend": "trtllm"},
        "planner": {"planner_prefill_utilization": 0.35, "planner_load_predictor": "auto",
                    "planner_prefix_cache_discount": True}})
    settings = parse_args(planner_args(config, 1, 2, stock=False), env={})
    assert (settings.prefill_utilization, settings.load_predictor) == (0.35, "auto")
    assert config_from_settings(settings).prefix_cache_discount
    assert not config_from_settings(parse_args([], env={})).prefix_cache_discount  # off: Dynamo 0.8's sizing
