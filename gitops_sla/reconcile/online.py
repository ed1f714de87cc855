"""Online (measured) profiling as a local process: `python -m profiler ... --engines local-dynamo|endpoint`.

Each request's run lives in `<work root>/<spec hash>/`: the inputs (`profile_files`), `pid`, `profiler.log`,
`progress.json` (written by the profiler), `out/` and, once the process has ended, `rc`. The process is started
in its own session and outlives the reconciler: a later pass, or a restarted reconciler, finds the folder by
spec hash and reads its progress or result. A run that stopped without an exit status (the process group was
killed) or died of a signal is restarted cleanly, at most `attempts` times in all; the status says so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from gitops_sla.reconcile.profile_files import BASE_FILE, output_from_files, profiler_args, profiler_inputs
from gitops_sla.reconcile.profiling import ProfileJob, ProfileOutput, Running
from profiler.errors import ProfilingError
from profiler.progress import read_progress

_RUNNER = 'cd "$1" && shift && "$@" > profiler.log 2>&1; echo $? > rc.tmp && mv rc.tmp rc'
_SIGNALLED = 128  # sh reports a child killed by signal N as 128 + N


class LocalProcessBackend:
    """Runs online profiling in a detached local process per request (keyed by spec hash)."""

    def __init__(self, work_root: Path, engines: str, version: str, *, extra_args: tuple[str, ...] = (),
                 attempts: int = 2, python: str = sys.executable):
        self.work_root = Path(work_root)
        self.engines = engines
        self.version = version
        self.extra_args = extra_args
        self.attempts = attempts
        self.python = python
        self._children: dict[str, subprocess.Popen[bytes]] = {}

    def work_dir(self, spec_hash: str) -> Path:
        return self.work_root / spec_hash.removeprefix("sha256:")[:32]

    def run(self, job: ProfileJob) -> ProfileOutput | Running:
        folder = self.work_dir(job.spec_hash)
        child = self._children.get(job.spec_hash)
        if child is not None and child.poll() is not None:
            self._children.pop(job.spec_hash)  # reaped: its pid no longer names it
        rc_file = folder / "rc"
        if rc_file.exists():
            rc = int(rc_file.read_text().strip() or "1")
            if rc == 0:
                return self._finish(folder)
            if rc < _SIGNALLED:
                log = _tail(folder / "profiler.log")
                shutil.rmtree(folder, ignore_errors=True)
                raise ProfilingError(f"the profiler exited with status {rc}: {log}")
            return self._restart(job, folder, f"the profiler was killed (exit status {rc})")
        if folder.exists():
            if self._alive(folder):
                progress = read_progress(folder / "progress.json")
                return Running(f"Profiling on {self.engines} engines (local process, attempt "
                               f"{self._attempt(folder)} of {self.attempts})", progress)
            return self._restart(job, folder, "the profiler process stopped without a result")
        superseded = self._supersede(job, folder)
        return self._start(job, folder, 1, f"stopped the run for earlier inputs ({superseded})" if superseded else "")

    def cancel(self, spec_hash: str) -> None:
        """Stop the run of `spec_hash` (its whole process group) and remove its folder."""
        self.cancel_folder(self.work_dir(spec_hash))

    def cancel_folder(self, folder: Path) -> None:
        """Stop the run in `folder` and remove the folder."""
        pid = _read_pid(folder)
        if pid is not None and self._alive(folder):
            try:
                os.killpg(pid, 9)
            except ProcessLookupError:
                pass
        for key, child in list(self._children.items()):
            if child.pid == pid:
                self._children.pop(key).wait()
        shutil.rmtree(folder, ignore_errors=True)

    def forget(self, namespace: str, name: str) -> None:
        """Stop and remove every run of the deleted request `namespace/name`."""
        request = f"{namespace}/{name}\n"
        for other in sorted(self.work_root.glob("*/request")) if self.work_root.exists() else []:
            if other.read_text() == request:
                self.cancel_folder(other.parent)

    def _supersede(self, job: ProfileJob, folder: Path) -> str:
        """Stop this request's run for other inputs (an edit while profiling); the spec hash it ran for, or ''."""
        request = f"{job.namespace}/{job.name}\n"
        for other in sorted(self.work_root.glob("*/request")) if self.work_root.exists() else []:
            if other.parent != folder and other.read_text() == request:
                self.cancel_folder(other.parent)
                return other.parent.name[:12]
        return ""

    def _start(self, job: ProfileJob, folder: Path, attempt: int, why: str) -> Running:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "request").write_text(f"{job.namespace}/{job.name}\n")
        inputs = profiler_inputs(job)
        for name, data in inputs.items():
            (folder / name).write_bytes(data)
        (folder / "attempt").write_text(f"{attempt}\n")
        args = profiler_args(str(folder), str(folder / "out"), self.engines, str(folder / "progress.json"),
                             BASE_FILE in inputs)
        child = subprocess.Popen(["sh", "-c", _RUNNER, "sh", str(folder), self.python, "-m", "profiler", *args,
                                  *self.extra_args], start_new_session=True, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._children[job.spec_hash] = child
        (folder / "pid").write_text(f"{child.pid}\n")
        what = (f"restarted ({why}), attempt {attempt} of {self.attempts}" if attempt > 1
                else f"started; {why}" if why else "started")
        return Running(f"Profiling on {self.engines} engines (local process {what})")

    def _restart(self, job: ProfileJob, folder: Path, why: str) -> Running:
        attempt = self._attempt(folder)
        log = _tail(folder / "profiler.log")
        shutil.rmtree(folder, ignore_errors=True)
        if attempt >= self.attempts:
            raise ProfilingError(f"{why} {attempt} time(s); giving up (last output: {log})")
        return self._start(job, folder, attempt + 1, why)

    def _finish(self, folder: Path) -> ProfileOutput:
        out = folder / "out"
        files = {str(path.relative_to(out)): path.read_bytes() for path in sorted(out.rglob("*")) if path.is_file()}
        try:
            return output_from_files(files, f"profiler output {out}")
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    @staticmethod
    def _attempt(folder: Path) -> int:
        try:
            return int((folder / "attempt").read_text().strip())
        except (OSError, ValueError):
            return 1

    @staticmethod
    def _alive(folder: Path) -> bool:
        """Is the run's runner process still there (not a reused pid: its command line names the folder)?"""
        pid = _read_pid(folder)
        if pid is None:
            return False
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        return str(folder).encode() in cmdline and stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _read_pid(folder: Path) -> int | None:
    try:
        return int((folder / "pid").read_text().strip())
    except (OSError, ValueError):
        return None


def _tail(path: Path, limit: int = 1500) -> str:
    try:
        text = path.read_text(errors="replace").strip()
    except OSError:
        return "(no output)"
    return text[-limit:] if text else "(no output)"
