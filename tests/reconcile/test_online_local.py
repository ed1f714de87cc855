"""Online profiling as a local process (`--online-engines local-dynamo`): a run that fails is the request's
`Failed` with the profiler's message; a run is stopped gracefully (SIGTERM, then SIGKILL after a grace period);
a run killed mid-sweep is restarted cleanly (the status says "restarted"), a live run found by a restarted
reconciler is followed (the status says "resumed"), a run killed too often is given up; no process, listening
port or temporary directory is left behind. The process handling is tested with a small shell script in the
profiler's place (fast), and end to end with the real profiler on Dynamo mocker engines with AIPerf (slow).
(The success path's output is read by the same code as the cluster Job's: tests/cluster/test_cluster_e2e.py.)"""

from __future__ import annotations

import dataclasses
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
    """Live processes whose environment, command line or current directory names `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "stat").read_text().rsplit(")", 1)[-1].split()[0] == "Z":
                    continue
                if any(marker.encode() in (entry / name).read_bytes() for name in ("environ", "cmdline")) or \
                        marker in os.readlink(entry / "cwd"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def process_table() -> dict[int, tuple[int, bytes]]:
    """Live processes: pid -> (parent pid, command line)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[-1].split()
                if fields[0] != "Z":
                    table[int(entry.name)] = (int(fields[1]), (entry / "cmdline").read_bytes())
            except OSError:
                continue
    return table


def descendants(root: int) -> dict[int, bytes]:
    """`root` and every live process below it: pid -> command line."""
    table = process_table()
    found = {root} if root in table else set()
    while True:
        more = {pid for pid, (parent, _) in table.items() if parent in found} - found
        if not more:
            return {pid: table[pid][1] for pid in found}
        found |= more


def listening_inodes() -> set[str]:
    """Inodes of the TCP sockets listening on this machine."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":
                inodes.add(fields[9])
    return inodes


def sockets_of(pids) -> set[str]:
    inodes = set()
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    return inodes


def alive(pids) -> list[int]:
    table = process_table()
    return [pid for pid in pids if pid in table]


# Stands in for `python -m profiler` (the backend runs `PYTHON -m profiler ARGS`): it makes a directory in its
# TMPDIR as the profiler's engines do, starts a child in its process group, and writes `started`. MODE graceful:
# on SIGTERM it removes its directory, writes "stopped" to $FAKE_PROFILER_LOG and exits, as the profiler does;
# stubborn: it ignores SIGTERM; killed: it SIGKILLs itself (the OOM killer, say).
FAKE_PROFILER = """#!/bin/sh
mkdir "$TMPDIR/gitops-sla-dynamo-fake"
case "$FAKE_PROFILER_MODE" in
  killed) kill -9 $$ ;;
  stubborn) trap '' TERM ;;
  *) trap 'rm -rf "$TMPDIR/gitops-sla-dynamo-fake"; echo stopped >> "$FAKE_PROFILER_LOG"; exit 143' TERM ;;
esac
sleep 600 &
echo started > started
while :; do wait; done
"""


@pytest.fixture
def fake_profiler(tmp_path, monkeypatch):
    """A backend factory whose runs are FAKE_PROFILER processes; stops every run it started afterwards."""
    script = tmp_path / "fake-python"
    script.write_text(FAKE_PROFILER)
    script.chmod(0o755)
    monkeypatch.setenv("FAKE_PROFILER_LOG", str(tmp_path / "stops.log"))
    backends = []

    def backend(**options) -> LocalProcessBackend:
        made = LocalProcessBackend(tmp_path / "work", "local-dynamo", PROFILER_VERSION, python=str(script), **options)
        backends.append(made)
        return made

    yield backend
    for made in backends:
        for folder in made.work_root.iterdir() if made.work_root.exists() else []:
            made.cancel_folder(folder)


def started_run(backend: LocalProcessBackend, job: ProfileJob) -> tuple[Path, Path, dict[int, bytes]]:
    """Start `job`'s run and wait until its stand-in is up: its folder, temporary directory and processes."""
    assert "started" in backend.run(job).message
    folder = backend.work_dir(job.spec_hash)
    wait_until(lambda: (folder / "started").exists(), "the run to start", 60)
    tmpdir = Path((folder / "tmpdir").read_text().strip())
    assert (tmpdir / "gitops-sla-dynamo-fake").is_dir()
    return folder, tmpdir, descendants(int((folder / "pid").read_text()))


def test_stopping_a_run_lets_it_clean_up_then_removes_its_temporary_directory(fake_profiler, tmp_path):
    backend = fake_profiler()
    job = online_job("sha256:" + "4" * 64)
    folder, tmpdir, processes = started_run(backend, job)
    assert len(processes) >= 3  # the runner, the stand-in and its child

    backend.cancel(job.spec_hash)

    assert (tmp_path / "stops.log").read_text() == "stopped\n"  # SIGTERM first: the profiler's own cleanup ran
    assert alive(processes) == [] and not tmpdir.exists() and not folder.exists()


def test_a_run_that_ignores_sigterm_is_killed_after_the_grace_period(fake_profiler, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_PROFILER_MODE", "stubborn")
    backend = fake_profiler(stop_grace_s=0.5)
    job = online_job("sha256:" + "5" * 64)
    folder, tmpdir, processes = started_run(backend, job)

    backend.cancel(job.spec_hash)

    assert not (tmp_path / "stops.log").exists()
    assert alive(processes) == [] and not tmpdir.exists() and not folder.exists()


def test_a_restarted_backend_cleans_up_after_dead_runs_resumes_live_ones_and_restarts_the_dead(fake_profiler):
    first = fake_profiler()
    dead_job = online_job("sha256:" + "6" * 64)
    live_job = dataclasses.replace(online_job("sha256:" + "7" * 64), name="other")
    dead, dead_tmp, dead_processes = started_run(first, dead_job)
    live, live_tmp, live_processes = started_run(first, live_job)
    os.killpg(int((dead / "pid").read_text()), signal.SIGKILL)  # the whole run, no cleanup of its own
    wait_until(lambda: alive(dead_processes) == [], "the killed run to die", 60)
    assert (dead_tmp / "gitops-sla-dynamo-fake").is_dir()  # what it left behind

    second = fake_profiler()  # the reconciler restarted

    assert not dead_tmp.exists() and dead.is_dir()  # the dead run's leftovers are gone; its folder says what happened
    assert (live_tmp / "gitops-sla-dynamo-fake").is_dir() and alive(live_processes) == list(live_processes)
    resumed = second.run(live_job)
    assert "attempt 1 of 2; resumed: following the run an earlier reconciler process started" in resumed.message
    assert resumed.record_now  # status.yaml says so at once
    again = second.run(live_job)
    assert "resumed" not in again.message and not again.record_now
    restarted = second.run(dead_job)
    assert "restarted (the profiler process stopped without a result), attempt 2 of 2" in restarted.message
    assert restarted.record_now


def test_a_run_killed_too_often_is_given_up_and_leaves_nothing(fake_profiler, monkeypatch):
    monkeypatch.setenv("FAKE_PROFILER_MODE", "killed")
    backend = fake_profiler()
    job = online_job("sha256:" + "8" * 64)
    assert "started" in backend.run(job).message
    folder = backend.work_dir(job.spec_hash)
    tmpdirs = [Path((folder / "tmpdir").read_text().strip())]
    wait_until(lambda: (folder / "rc").exists(), "the first attempt to die", 60)
    restarted = backend.run(job)
    assert "restarted (the profiler was killed (exit status 137)), attempt 2 of 2" in restarted.message
    assert not tmpdirs[0].exists()
    tmpdirs.append(Path((folder / "tmpdir").read_text().strip()))
    wait_until(lambda: (folder / "rc").exists(), "the second attempt to die", 60)
    with pytest.raises(ProfilingError) as gave_up:
        backend.run(job)
    assert "the profiler was killed (exit status 137) 2 time(s); giving up" in str(gave_up.value)
    assert not folder.exists() and not any(path.exists() for path in tmpdirs)


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


def measuring_run(folder: Path) -> tuple[Path, dict[int, bytes], set[str]]:
    """Wait until the run in `folder` measures with AIPerf (its worker processes are up); its temporary
    directory, processes and listening sockets then."""
    runner = int((folder / "pid").read_text())

    def measuring() -> bool:
        if (folder / "rc").exists():
            raise AssertionError(f"the profiler exited: {(folder / 'profiler.log').read_text()[-2000:]}")
        return any(cmdline.startswith(b"aiperf records_manager") for cmdline in descendants(runner).values())

    wait_until(measuring, "AIPerf to measure the engines", 300)
    processes = descendants(runner)
    listening = sockets_of(processes) & listening_inodes()
    assert listening  # the frontend's HTTP port at least
    return Path((folder / "tmpdir").read_text().strip()), processes, listening


def assert_nothing_left(tmpdir: Path, processes: dict[int, bytes], listening: set[str]) -> None:
    """No process of the run (by pid, or naming its temporary directory), no listening socket, no directory."""
    wait_until(lambda: alive(processes) == [] and processes_with(str(tmpdir)) == [], "the run's processes to stop", 60)
    assert listening & listening_inodes() == set()
    assert not tmpdir.exists()


@pytest.mark.slow
def test_a_run_killed_mid_sweep_leaves_nothing_and_restarts_cleanly_and_a_stopped_run_too(tmp_path, monkeypatch):
    monkeypatch.setenv("CI", "1")
    python = dynamo_python()
    model = tiny_model(python, tmp_path / "model")

    def backend() -> LocalProcessBackend:  # a reconciler process (a new one: restarted)
        return LocalProcessBackend(tmp_path / "work", "local-dynamo", PROFILER_VERSION, attempts=3,
                                   extra_args=("--dynamo-python", str(python), "--tokenizer", str(model)))

    first = backend()
    job = online_job("sha256:" + "2" * 64)
    folder = first.work_dir(job.spec_hash)
    try:
        assert "started" in first.run(job).message
        tmpdir, processes, listening = measuring_run(folder)
        assert any(cmdline.startswith(b"aiperf ") for cmdline in processes.values())
        second = backend()  # the reconciler restarted while the run goes on: it follows the run
        resumed = second.run(job)
        assert isinstance(resumed, Running) and "attempt 1 of 3; resumed" in resumed.message

        # 1. the profiler process alone is killed (the OOM killer, say): its engines and AIPerf die with it
        runner = int((folder / "pid").read_text())
        profiler_pid = next(pid for pid, (parent, _) in process_table().items() if parent == runner)
        os.kill(profiler_pid, signal.SIGKILL)
        wait_until(lambda: (folder / "rc").exists(), "the runner to record the exit status")
        restarted = second.run(job)
        assert "restarted (the profiler was killed (exit status 137)), attempt 2 of 3" in restarted.message
        assert_nothing_left(tmpdir, processes, listening)

        # 2. the whole run is killed, and the reconciler restarts: the new one cleans up before anything else
        tmpdir, processes, listening = measuring_run(folder)
        os.killpg(int((folder / "pid").read_text()), signal.SIGKILL)
        wait_until(lambda: not second._alive(folder), "the run to die")
        third = backend()
        assert_nothing_left(tmpdir, processes, listening)
        restarted = third.run(job)
        assert "restarted (the profiler process stopped without a result), attempt 3 of 3" in restarted.message

        # 3. a run stopped through the backend (an edited or deleted request)
        tmpdir, processes, listening = measuring_run(folder)
        third.cancel(job.spec_hash)
        assert_nothing_left(tmpdir, processes, listening)
        assert not folder.exists()
    finally:
        first.cancel(job.spec_hash)


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
