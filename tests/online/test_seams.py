"""The engine-provider seam and the progress file: what the reconciler and other providers build on."""

from __future__ import annotations

import io

import pytest

from profiler.config import ProfileConfig
from profiler.engines import EngineMapping, ProviderOptions, create, names, register
from profiler.errors import ProfilingError
from profiler.progress import Progress, ProgressState, read_progress
from profiler.search_space import ParallelMapping


@pytest.mark.parametrize("kind,size,tp,ep,dp", [("TP", 4, 4, 1, 1), ("TEP", 8, 8, 8, 1), ("DEP", 8, 1, 8, 8)])
def test_engine_mapping_round_trips_dynamo_labels(kind, size, tp, ep, dp):
    mapping = EngineMapping.of(ParallelMapping(kind, size), "decode", "vllm", "Qwen/Qwen3-0.6B")
    assert (mapping.tp, mapping.ep, mapping.dp) == (tp, ep, dp)
    assert mapping.label == f"{kind}={size}" and mapping.num_gpus == size
    assert mapping.describe() == f"decode {kind}={size} (vllm)"


def test_unknown_provider_names_the_choices():
    with pytest.raises(ProfilingError, match="unknown engine provider 'gpu-farm'; choose one of: endpoint, "):
        create("gpu-farm", ProviderOptions(), ProfileConfig())


def test_a_registered_provider_is_built_by_name():
    built = []

    def factory(options, config):
        built.append((options.extra["zone"], config.sla.isl))
        return object()

    register("test-zone", factory)
    create("test-zone", ProviderOptions(extra={"zone": "b"}), ProfileConfig())
    assert built == [("b", 3000)] and "test-zone" in names()


def test_endpoint_provider_needs_a_local_tokenizer(tmp_path):
    options = ProviderOptions(endpoint_url="http://127.0.0.1:9", tokenizer_dir=tmp_path)
    with pytest.raises(ProfilingError, match="give a local tokenizer directory"):
        create("endpoint", options, ProfileConfig())


def test_progress_file_and_lines(tmp_path):
    times = iter([0.0, 10.0, 30.0, 31.0])
    stream = io.StringIO()
    progress = Progress(path=tmp_path / "p" / "progress.json", stream=stream, clock=lambda: next(times))
    progress.update(phase="measuring", total=4, mapping="prefill TP=1 (vllm)", point="ISL 3000")
    assert read_progress(progress.path) == ProgressState("measuring", 0, 4, "prefill TP=1 (vllm)", "ISL 3000", 0.0)
    progress.measured(10.0)
    progress.measured(20.0)
    state = read_progress(progress.path)
    assert (state.done, state.total, state.elapsed_s, state.eta_s) == (2, 4, 30.0, 30.0)
    assert stream.getvalue().splitlines() == [
        "[1/4] prefill TP=1 (vllm): ISL 3000 (10s elapsed, ~30s left)",
        "[2/4] prefill TP=1 (vllm): ISL 3000 (30s elapsed, ~30s left)",
    ]
    progress.update(phase="failed", message="stopped")
    assert read_progress(progress.path).phase == "failed"
    assert sorted(p.name for p in progress.path.parent.iterdir()) == ["progress.json"]


def test_unreadable_progress_is_none(tmp_path):
    (tmp_path / "p.json").write_text('{"phase": "sleeping"}')
    assert read_progress(tmp_path / "p.json") is None and read_progress(tmp_path / "missing.json") is None
