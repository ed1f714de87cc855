"""Dynamo 1.6.1's real frontend and mocker workers on 127.0.0.1 (aggregated and prefill/decode), and real
AIPerf 0.13.0 against them: measured curves against the mocker's known timing, and a clean stop."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from profiler.engines import EngineMapping, ProviderOptions, create
from profiler.engines.timing import mocker_npz, reference_curves
from profiler.measure.aiperf import MAX_TMP_BASE, Workload, find_aiperf, run_aiperf
from profiler.measure.fit import fit
from profiler.measure.kv import kv_capacity_tokens
from profiler.config import ProfileConfig
from profiler.errors import ProfilingError
from support.dynamo_stack import WorkerTiming, dynamo_stack

pytestmark = pytest.mark.slow
MODEL = "Qwen/Qwen3-0.6B"
# TTFT includes what a real frontend adds: HTTP, chat template and tokenisation of the prompt (tens of ms on a
# busy 2-core machine, growing with the prompt); ITL is the engine's alone.
TTFT_OVERHEAD_MS = (0.0, 120.0)
TTFT_RELATIVE = 0.15
ITL_RELATIVE = 0.20


def _cached_prompt_tokens(metrics_url: str) -> float:
    """Prompt tokens the engines served from their prefix cache (the frontend's `dynamo_frontend_cached_tokens`)."""
    text = httpx.get(metrics_url, timeout=10).text
    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == "dynamo_frontend_cached_tokens_sum")


def _listeners(pids: set[int]) -> list[str]:
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout
    return [line.split()[3] for line in out.splitlines() if any(f"pid={pid}," in line for pid in pids)]


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                if handle.read().split()[2] != "Z":
                    alive.add(pid)
        except FileNotFoundError:
            continue
    return alive


@pytest.mark.parametrize("mode", ["agg", "disagg"])
def test_stack_serves_on_loopback_and_stops(mode, dynamo_venv_python, tiny_model_dir, tmp_path):
    curves = reference_curves(1, 40960)
    npz = tmp_path / "timing.npz"
    npz.write_bytes(mocker_npz(curves))
    timing = WorkerTiming(npz=npz, kv_blocks=2500, block_size=16)
    with dynamo_stack(dynamo_venv_python, tiny_model_dir, MODEL, mode=mode, timing=timing) as stack:
        pids = {p.pid for p in stack.processes}
        answer = httpx.post(f"{stack.url}/v1/chat/completions", timeout=60, json={
            "model": MODEL, "messages": [{"role": "user", "content": "hello"}], "max_tokens": 3})
        assert answer.status_code == 200 and answer.json()["choices"][0]["message"]["content"]
        listeners = _listeners(pids)
        assert listeners and all(address.startswith("127.0.0.1:") for address in listeners)
        workers = 1 if mode == "agg" else 2
        assert kv_capacity_tokens(stack.metrics_url, MODEL) in (2500 * 16, 2500 * 16 * workers)
        run_dir = stack.run_dir
        assert (run_dir / "home").is_dir()
    assert not _alive(pids) and not run_dir.exists()


def test_measured_curves_match_the_mocker_timing(dynamo_venv_python, tiny_model_dir, monkeypatch):
    """One deployment of a TP=2 engine with known curves; one prefill run (TTFT over ISL, fitted) and one decode run."""
    # A temporary directory as long as AIPerf's socket paths allow: the engines' and AIPerf's directories land here
    scratch = Path(tempfile.mkdtemp(prefix="t", dir="/tmp"))
    scratch = scratch / ("x" * (MAX_TMP_BASE - len(str(scratch)) - 1))
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    try:
        measure_and_check(dynamo_venv_python, tiny_model_dir)
        assert list(scratch.iterdir()) == []  # the engines' temporary directories are gone, and AIPerf's
    finally:
        shutil.rmtree(scratch.parent)


def measure_and_check(dynamo_venv_python: Path, tiny_model_dir: Path) -> None:
    config = ProfileConfig.model_validate({"deployment": {"model": MODEL}, "engine": {"maxContextLength": 40960}})
    provider = create("local-dynamo", ProviderOptions(dynamo_python=dynamo_venv_python, tokenizer_dir=tiny_model_dir),
                      config)
    truth = reference_curves(2, 40960)
    aiperf = find_aiperf(dynamo_venv_python)
    with provider.acquire(EngineMapping("vllm", MODEL, "agg", tp=2)) as endpoint:
        assert kv_capacity_tokens(endpoint.metrics_url, MODEL) == truth.max_kv_tokens
        prefill = run_aiperf(aiperf, endpoint, Workload(isl=3000, osl=2, concurrency=1, request_count=12,
                                                         isl_stddev=1500))
        decode = run_aiperf(aiperf, endpoint, Workload(isl=3000, osl=60, concurrency=4, request_count=10))
        # Every prompt was prefilled whole: AIPerf's prompts for one seed share their beginnings, and without a
        # marker of its own at the start of each the mocker's prefix cache served up to 1,800 tokens of some.
        assert _cached_prompt_tokens(endpoint.metrics_url) == 0
    # The measured requests only: AIPerf exports its warm-up requests too (one here, four for decode).
    assert len(prefill.records) == 12 and len(decode.records) == 10
    ttft = fit([r.isl for r in prefill.records], [r.ttft_ms for r in prefill.records], 2)
    for isl in (1500, 3000, 4500):
        expected = truth.ttft_ms(isl)
        assert expected * (1 - TTFT_RELATIVE) + TTFT_OVERHEAD_MS[0] <= ttft(isl) <= expected * (1 + TTFT_RELATIVE) + TTFT_OVERHEAD_MS[1], (isl, ttft(isl), expected)
    # Active KV tokens at concurrency 4: four requests of ISL 3000 with half their answer generated on average.
    expected_itl = truth.itl_ms(4 * (3000 + 30), 3030)
    assert abs(decode.itl_ms - expected_itl) <= ITL_RELATIVE * expected_itl, (decode.itl_ms, expected_itl)


def test_endpoint_provider_checks_the_running_endpoint(dynamo_venv_python, tiny_model_dir):
    config = ProfileConfig.model_validate({"deployment": {"model": MODEL}})
    with dynamo_stack(dynamo_venv_python, tiny_model_dir, MODEL) as stack:
        options = ProviderOptions(endpoint_url=f"{stack.url}/v1", tokenizer_dir=tiny_model_dir,
                                  extra={"mapping": "TP=2"})
        provider = create("endpoint", options, config)
        assert provider.fixed_mapping.label == "TP=2"
        with provider.acquire(provider.fixed_mapping) as endpoint:
            assert endpoint.url == stack.url and endpoint.metrics_url == stack.metrics_url
            assert kv_capacity_tokens(endpoint.metrics_url, MODEL) is not None
        wrong = create("endpoint", ProviderOptions(endpoint_url=stack.url, served_model="other/model",
                                                   tokenizer_dir=tiny_model_dir), config)
        with pytest.raises(ProfilingError, match=f"does not serve model 'other/model' \\(it serves: {MODEL}\\)"):
            with wrong.acquire(wrong.fixed_mapping):
                pass
        port = stack.url.rsplit(":", 1)[1]
    gone = create("endpoint", ProviderOptions(endpoint_url=f"http://127.0.0.1:{port}", tokenizer_dir=tiny_model_dir),
                  config)
    with pytest.raises(ProfilingError, match="did not answer"):
        with gone.acquire(gone.fixed_mapping):
            pass
