"""Online profiling as a local process (`--online-engines local-dynamo`): a run that fails is the request's
`Failed` with the profiler's message; a run killed mid-sweep is restarted cleanly (the status says so), then
given up after its attempts; nothing is left behind. (The success path's output is read by the same code as the
cluster Job's: tests/cluster/test_cluster_e2e.py.)"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support.dynamo_stack import dynamo_python, tiny_model  # noqa: E402

from gitops_sla.reconcile.online import LocalProcessBackend  # noqa: E402
from gitops_sla.reconcile.profiling import ProfileJob, Running  # noqa: E402
from gitops_sla.validation import validate_request_file  # noqa: E402
from profiler.errors import ProfilingError  # noqa: E402
from profiler.progress import read_progress  # noqa: E402
from profiler.version import PROFILER_VERSION  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[2] / "gitops_sla/examples/dynamo-samples/profile_sla_dgdr.yaml"


def online_job(spec_hash: str) -> ProfileJob:
    request = validate_request_file(SAMPLE.read_bytes(), file="sla-online.yaml", repo_path=None).request
    assert request is not None
    return ProfileJob("team-a", "sla-online", spec_hash, request, request.to_profile_config(None, namespace="team-a"))


def wait_until(predicate, what: str, timeout_s: float = 600.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_a_failing_run_fails_the_request_with_the_profilers_message_and_edits_stop_earlier_runs(tmp_path,
                                                                                                    monkeypatch):
    for variable in ("GITOPS_SLA_DYNAMO_PYTHON", "GITOPS_SLA_DYNAMO_VENV"):  # no Dynamo virtualenv to be found
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    backend = LocalProcessBackend(tmp_path / "work", "local-dynamo", PROFILER_VERSION,
                                  extra_args=("--dynamo-python", str(tmp_path / "missing/bin/python")))
    earlier = online_job("sha256:" + "0" * 64)
    job = online_job("sha256:" + "1" * 64)
    try:
        assert isinstance(backend.run(earlier), Running)
        started = backend.run(job)  # the request edited: its run for the earlier inputs is stopped
        assert isinstance(started, Running) and "started; stopped the run for earlier inputs" in started.message
        assert not backend.work_dir(earlier.spec_hash).exists()
        folder = backend.work_dir(job.spec_hash)
        wait_until(lambda: (folder / "rc").exists(), "the profiler to exit")
        with pytest.raises(ProfilingError) as failed:
            backend.run(job)
    finally:
        backend.cancel(job.spec_hash)
    assert "exited with status 2" in str(failed.value) and "no Dynamo 1.6.1 virtualenv found" in str(failed.value)
    assert not folder.exists()


@pytest.mark.slow
def test_a_run_killed_mid_sweep_restarts_cleanly_then_gives_up(tmp_path, monkeypatch):
    marker = tmp_path / "tmp"
    marker.mkdir()
    monkeypatch.setenv("TMPDIR", str(marker))  # the runs' processes carry it: found below if any is left
    monkeypatch.setenv("CI", "1")
    python = dynamo_python()
    model = tiny_model(python, tmp_path / "model")
    backend = LocalProcessBackend(tmp_path / "work", "local-dynamo", PROFILER_VERSION, attempts=2,
                                  extra_args=("--dynamo-python", str(python), "--tokenizer", str(model)))
    job = online_job("sha256:" + "2" * 64)
    folder = backend.work_dir(job.spec_hash)
    try:
        assert isinstance(backend.run(job), Running)
        for attempt in (1, 2):
            wait_until(lambda: getattr(read_progress(folder / "progress.json"), "phase", None) in ("deploying",
                                                                                                    "measuring"),
                       f"attempt {attempt} to deploy engines")
            running = backend.run(job)
            assert isinstance(running, Running) and f"attempt {attempt} of 2" in running.message
            os.killpg(int((folder / "pid").read_text()), signal.SIGKILL)  # the machine's OOM killer, say
            wait_until(lambda: not backend._alive(folder), "the run to die")
            if attempt == 1:
                restarted = backend.run(job)
                assert isinstance(restarted, Running)
                assert "restarted (the profiler process stopped without a result), attempt 2 of 2" in restarted.message
        with pytest.raises(ProfilingError) as gave_up:
            backend.run(job)
        assert "stopped without a result 2 time(s); giving up" in str(gave_up.value)
        assert not folder.exists()
    finally:
        backend.cancel(job.spec_hash)
    wait_until(lambda: processes_with(str(marker)) == [], "every engine process to stop", 60)


@pytest.mark.parametrize("example", ["quickstart-aic.yaml", "dynamo-samples/profile_sla_dgdr.yaml",
                                     "docs-vllm-dense-online.yaml", "dynamo-1.6.1/readme-zero-config.yaml"])
def test_an_out_of_process_run_is_asked_what_the_in_process_profiler_would_be(example, tmp_path):
    from gitops_sla.reconcile.offline import profile_request
    from gitops_sla.reconcile.profile_files import profiler_inputs
    from profiler.request_file import request_from_file

    text = (SAMPLE.parents[1] / example).read_bytes()
    request = validate_request_file(text, file=Path(example).name, repo_path=None).request
    assert request is not None
    mocked = request.model_copy(update={"mocker": True})  # what only the ProfileRequest carries, not a v1alpha1 file
    job = ProfileJob("team-a", request.name, "sha256:" + "3" * 64, mocked,
                     request.to_profile_config(None, namespace="team-a"), "bases/team-a/base.yaml", b"kind: x\n")
    for name, data in profiler_inputs(job).items():
        (tmp_path / name).write_bytes(data)
    base = {"kind": "DynamoGraphDeployment"}
    assert request_from_file(tmp_path / "request.yaml", base_config=base, name=None, namespace=None) == \
        profile_request(job, base)
    assert (tmp_path / "base.yaml").read_bytes() == b"kind: x\n"
