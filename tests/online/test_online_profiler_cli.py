"""`python -m profiler` measuring on local Dynamo engines: the quick-start's online DGDR end to end, and a run
stopped mid-sweep that leaves no process, port or temporary directory behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from profiler.engines.timing import reference_curves
from profiler.progress import read_progress
from profiler.select import pick

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
QUICKSTART_ONLINE = ROOT / "gitops_sla/examples/dynamo-samples/profile_sla_dgdr.yaml"


def _command(output: Path, progress: Path, python: Path, model_dir: Path) -> list[str]:
    return [sys.executable, "-m", "profiler", "--config", str(QUICKSTART_ONLINE), "--output", str(output),
            "--engines", "local-dynamo", "--dynamo-python", str(python), "--tokenizer", str(model_dir),
            "--progress-file", str(progress)]


def _environment(tmp: Path) -> dict[str, str]:
    tmp.mkdir()
    return {**os.environ, "TMPDIR": str(tmp), "CI": "1", "PYTHONPATH": str(ROOT)}


def _processes_using(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker.encode() in environ:
            found.append(int(entry.name))
    return found


def test_quickstart_online_request_is_measured_end_to_end(dynamo_venv_python, tiny_model_dir, tmp_path):
    output, progress = tmp_path / "out", tmp_path / "progress.json"
    done = subprocess.run(_command(output, progress, dynamo_venv_python, tiny_model_dir), capture_output=True,
                          text=True, env=_environment(tmp_path / "tmp"), timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    assert read_progress(progress).phase == "done"
    assert not list((tmp_path / "tmp").iterdir())  # nothing left in the run's TMPDIR
    profile = json.loads((output / "profile.json").read_text())
    measured = profile["measured"]
    assert profile["aiconfigurator"] is None and measured["provider"] == "local-dynamo"
    assert measured["prior"].startswith("none (no AI Configurator system named")
    assert measured["aiperf_runs"] <= 16 and measured["deployments"] == len(measured["measured_mappings"]) <= 3
    # The choice follows Dynamo's rule over the measured points.
    prefill = profile["prefill_sweep"]
    chosen = pick([p["ttft_ms"] for p in prefill], [p["thpt_per_gpu"] for p in prefill], 200.0)
    assert profile["prefill"]["mapping"] == prefill[chosen.index]["mapping"]
    # Measured against the engines' known curves (TTFT plus the frontend's own time).
    for point in prefill:
        truth = reference_curves(point["num_gpus"], 40960).ttft_ms(3000)
        assert truth * 0.85 <= point["ttft_ms"] <= truth * 1.15 + 120, point
    for point in profile["decode_sweep"]:
        curves = reference_curves(point["num_gpus"], 40960)
        truth = curves.itl_ms(point["concurrency"] * (3000 + 50), 3050)
        assert abs(point["itl_ms"] - truth) <= 0.25 * truth, point
        assert point["max_kv_tokens"] == curves.max_kv_tokens
    decode_data = json.loads((output / "decode_raw_data.json").read_text())
    assert decode_data["max_kv_tokens"] == reference_curves(profile["decode"]["num_gpus"], 40960).max_kv_tokens
    dgd = yaml.safe_load((output / "dgd.yaml").read_text())
    assert dgd["metadata"]["name"] == "sla-online"
    report = (output / "report.md").read_text()
    assert "Measured with AIPerf on `local-dynamo` engines" in report and "## Measurements" in report


def test_stopping_mid_sweep_leaves_nothing_behind(dynamo_venv_python, tiny_model_dir, tmp_path):
    output, progress, tmp = tmp_path / "out", tmp_path / "progress.json", tmp_path / "tmp"
    process = subprocess.Popen(_command(output, progress, dynamo_venv_python, tiny_model_dir),
                               env=_environment(tmp), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and process.poll() is None:
            state = read_progress(progress)
            if state is not None and state.phase == "measuring":
                break
            time.sleep(0.2)
        assert process.poll() is None and read_progress(progress).phase == "measuring"
        started = _processes_using(str(tmp))
        assert len(started) >= 4  # broker, frontend, mocker, AIPerf (and its services)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stderr.close()
    assert process.returncode != 0
    assert read_progress(progress).phase == "failed"
    deadline = time.monotonic() + 30
    while _processes_using(str(tmp)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_using(str(tmp)) == []
    assert list(tmp.iterdir()) == [] and not output.exists()
