"""Measured profiling end to end on local Dynamo engines: the quick-start's online DGDR reconciled and committed
(`gitops-sla demo --online`), and a `python -m profiler` run stopped mid-sweep that leaves no process, port or
temporary directory behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pygit2
import pytest
import yaml

from gitops_sla.reconcile.online import LocalProcessBackend
from profiler.engines.timing import reference_curves
from profiler.progress import read_progress
from profiler.version import PROFILER_VERSION

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
QUICKSTART_ONLINE = ROOT / "gitops_sla/examples/dynamo-samples/profile_sla_dgdr.yaml"


def _command(output: Path, progress: Path, python: Path, model_dir: Path) -> list[str]:
    return [sys.executable, "-m", "profiler", "--config", str(QUICKSTART_ONLINE), "--output", str(output),
            "--engines", "local-dynamo", "--dynamo-python", str(python), "--tokenizer", str(model_dir),
            "--progress-file", str(progress)]


def _environment(tmp: Path) -> dict[str, str]:
    """TMPDIR for the run (the engines' temporary directories; AIPerf's go to /tmp for short socket paths) and a
    marker every process it starts carries (in its environment or its TMPDIR)."""
    tmp.mkdir()
    return {**os.environ, "TMPDIR": str(tmp), "CI": "1", "PYTHONPATH": str(ROOT), "GITOPS_SLA_TEST_RUN": str(tmp)}


def _aiperf_dirs() -> set[Path]:
    return set(Path("/tmp").glob("gitops-sla-aiperf-*"))


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


def _committed(origin: Path, path: str) -> bytes:
    repo = pygit2.Repository(str(origin))
    return repo[repo.head.target].tree[path].data


def test_demo_online_reconciles_the_quickstart_online_request(dynamo_venv_python, tmp_path):
    """`gitops-sla demo --online`: the quick-start's online DGDR reconciled end to end (a local profiler process
    measuring local Dynamo mocker engines with AIPerf), the result committed."""
    keep = tmp_path / "demo"
    env = {**_environment(tmp_path / "tmp"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-m", "gitops_sla", "demo", "--online", "--keep", str(keep),
                           "--dynamo-python", str(dynamo_venv_python)], capture_output=True, text=True, env=env,
                          timeout=2400)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Profiling on local-dynamo engines" in done.stdout
    folder = "generated/default/sla-online"
    origin = keep / "origin.git"
    profile = json.loads(_committed(origin, f"{folder}/profile.json"))
    measured = profile["measured"]
    # The repository's default AI Configurator target (h200_sxm) gives the sweep its prior; the local engines
    # follow other (known) curves, so the estimate is calibrated: measured/estimated ratios well above 1.
    assert profile["aiconfigurator"]["system"] == "h200_sxm" and measured["provider"] == "local-dynamo"
    assert measured["prior"].startswith("AI Configurator estimate on h200_sxm")
    assert measured["ttft_measured_over_estimated"] > 1.5 and measured["itl_measured_over_estimated"] > 1.5
    # Demo-sized (said in its output): engines of at most 2 GPUs, so two mappings at most (one may be deployed
    # again after calibration).
    assert "demo-sized" in done.stdout and b"maxNumGpusPerEngine: 2" in _committed(origin, "requests/default/sla-online.yaml")
    assert measured["aiperf_runs"] <= 10 and len(measured["measured_mappings"]) <= 2 and measured["deployments"] <= 3
    assert all(point["num_gpus"] <= 2 for point in profile["prefill_sweep"] + profile["decode_sweep"])
    # Measured against the engines' known curves (TTFT plus the frontend's own time).
    prefill = profile["prefill_sweep"]
    for point in prefill:
        truth = reference_curves(point["num_gpus"], 40960).ttft_ms(3000)
        assert truth * 0.85 <= point["ttft_ms"] <= truth * 1.15 + 120, point
    for point in profile["decode_sweep"]:
        curves = reference_curves(point["num_gpus"], 40960)
        truth = curves.itl_ms(point["concurrency"] * (3000 + 50), 3050)
        if point["concurrency"] <= 16:  # beyond, a 2-core machine's load generator sets the pace, not the engine
            assert abs(point["itl_ms"] - truth) <= 0.25 * truth, point
        assert point["max_kv_tokens"] == curves.max_kv_tokens
    # The chosen prefill engine is the best measured one within the TTFT target (with the selection margin).
    within = [p for p in prefill if p["ttft_ms"] * 1.1 <= 200.0]
    assert within and profile["prefill"]["mapping"] == max(within, key=lambda p: p["thpt_per_gpu"])["mapping"]
    decode_data = json.loads(_committed(origin, f"{folder}/decode_raw_data.json"))
    assert decode_data["max_kv_tokens"] == reference_curves(profile["decode"]["num_gpus"], 40960).max_kv_tokens
    dgd = yaml.safe_load(_committed(origin, f"{folder}/dgd.yaml"))
    assert dgd["metadata"]["name"] == "sla-online"
    report = _committed(origin, f"{folder}/report.md").decode()
    assert "Measured with AIPerf on `local-dynamo` engines" in report and "## Measurements" in report
    status = yaml.safe_load(_committed(origin, f"{folder}/status.yaml"))
    assert status["status"]["state"] == "Deploying", status  # generated and committed; Argo CD / Flux applies it


def test_stopping_mid_sweep_leaves_nothing_behind(dynamo_venv_python, tiny_model_dir, tmp_path):
    output, progress, tmp = tmp_path / "out", tmp_path / "progress.json", tmp_path / "tmp"
    aiperf_dirs = _aiperf_dirs()
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
        process.wait(timeout=300)  # stopping AIPerf and three Dynamo processes, each with a grace period
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
    assert list(tmp.iterdir()) == [] and not output.exists() and _aiperf_dirs() <= aiperf_dirs


def test_stopping_the_online_demo_stops_its_profiler_run(dynamo_venv_python, tmp_path):
    """The demo's profiler runs detached (as the reconciler's does); a stopped demo stops it and its engines."""
    keep = tmp_path / "demo"
    env = {**_environment(tmp_path / "tmp"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    demo = subprocess.Popen([sys.executable, "-m", "gitops_sla", "demo", "--online", "--keep", str(keep),
                             "--dynamo-python", str(dynamo_venv_python)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 600
        runs = []
        while time.monotonic() < deadline and demo.poll() is None:
            runs = [folder for folder in (keep / "online").glob("*")
                    if getattr(read_progress(folder / "progress.json"), "phase", None) == "measuring"]
            if runs:
                break
            time.sleep(0.2)
        assert demo.poll() is None and len(runs) == 1
        run_tmp = (runs[0] / "tmpdir").read_text().strip()
        assert len(_processes_using(run_tmp)) >= 4  # broker, frontend, mocker, AIPerf
        demo.send_signal(signal.SIGTERM)
        demo.wait(timeout=120)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
        left = [folder for folder in (keep / "online").glob("*") if (folder / "pid").exists()]
        LocalProcessBackend(keep / "online", "local-dynamo", PROFILER_VERSION).cancel_all()  # whatever is left
    assert demo.returncode != 0 and left == []
    assert _processes_using(run_tmp) == [] and not Path(run_tmp).exists() and list((keep / "online").iterdir()) == []
