"""Online (measured) profiling as a local process: `python -m profiler ... --engines local-dynamo|endpoint`.

Each request's run lives in `<work root>/<spec hash>/`: the inputs (`profile_files`), `pid`, `profiler.log`,
`progress.json` (written by the profiler), `tmpdir` (where its temporary directory is), `out/` and, once the
process has ended, `rc`. The process is started in its own session and outlives the reconciler: a later pass,
or a restarted reconciler, finds the folder by spec hash, follows the run (the status says "resumed") and reads
its progress or result. Everything the run creates outside the folder (the engines' and AIPerf's temporary
directories) lives in its own temporary directory (TMPDIR), short enough for AIPerf's socket paths.

Stopping a run is graceful: SIGTERM to its process group (the profiler then stops its engines and AIPerf and
removes their directories), SIGKILL after `stop_grace_s`, then its temporary directory is removed. A run that
stopped without an exit status (its process group was killed) or died of a signal is restarted cleanly, at
most `attempts` times in all, after its leftovers are removed; the status says "restarted" and why. A new
backend (a restarted reconciler) first removes the leftovers of every run under its work root whose process is
gone, never those of a live run.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gitops_sla.reconcile.profile_files import BASE_FILE, output_from_files, profiler_args, profiler_inputs
from gitops_sla.reconcile.profiling import ProfileJob, ProfileOutput, Running
from profiler.errors import ProfilingError
from profiler.measure.aiperf import MAX_TMP_BASE
from profiler.progress import read_progress

_RUNNER = 'cd "$1" && shift && "$@" > profiler.log 2>&1; echo $? > rc.tmp && mv rc.tmp rc'
_SIGNALLED = 128  # sh reports a child killed by signal N as 128 + N
STOP_GRACE_S = 30.0  # how long a stopped run may take to stop its engines and AIPerf before it is killed
_RUN_TMP_PREFIX = "gsla-run-"  # + 8 random characters: short, as AIPerf's socket paths under it must be


class LocalProcessBackend:
    """Runs online profiling in a detached local process per request (keyed by spec hash)."""

    def __init__(self, work_root: Path, engines: str, version: str, *, extra_args: tuple[str, ...] = (),
                 attempts: int = 2, python: str = sys.executable, stop_grace_s: float = STOP_GRACE_S):
        self.work_root = Path(work_root)
        self.engines = engines
        self.version = version
        self.extra_args = extra_args
        self.attempts = attempts
        self.python = python
        self.stop_grace_s = stop_grace_s
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._followed: set[Path] = set()  # live runs this backend has reported on
        self.remove_leftovers()

    def remove_leftovers(self) -> list[Path]:
        """Remove what runs whose process is gone (killed, or their machine restarted) left outside their folder
        (their temporary directories, any process of theirs still there); the folders stay, for `run` to restart
        or finish. Live runs are not touched. Returns the folders cleaned."""
        cleaned = []
        for folder in sorted(self.work_root.iterdir()) if self.work_root.is_dir() else []:
            if folder.is_dir() and not self._alive(folder) and _recorded_tmpdir(folder) is not None:
                self._stop(folder)
                cleaned.append(folder)
        return cleaned

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
                self.cancel_folder(folder)
                raise ProfilingError(f"the profiler exited with status {rc}: {log}")
            return self._restart(job, folder, f"the profiler was killed (exit status {rc})")
        if folder.exists():
            if self._alive(folder):
                progress = read_progress(folder / "progress.json")
                resumed = folder not in self._followed  # started by an earlier reconciler process
                self._followed.add(folder)
                note = "; resumed: following the run an earlier reconciler process started" if resumed else ""
                return Running(f"Profiling on {self.engines} engines (local process, attempt {self._attempt(folder)} "
                               f"of {self.attempts}{note})", progress, record_now=resumed)
            return self._restart(job, folder, "the profiler process stopped without a result")
        superseded = self._supersede(job, folder)
        return self._start(job, folder, 1, f"stopped the run for earlier inputs ({superseded})" if superseded else "")

    def cancel(self, spec_hash: str) -> None:
        """Stop the run of `spec_hash` (its whole process group) and remove its folder."""
        self.cancel_folder(self.work_dir(spec_hash))

    def cancel_all(self) -> None:
        """Stop every run under the work root (a reconciler that is shutting down for good: the demo)."""
        for folder in sorted(self.work_root.iterdir()) if self.work_root.is_dir() else []:
            if folder.is_dir():
                self.cancel_folder(folder)

    def cancel_folder(self, folder: Path) -> None:
        """Stop the run in `folder` (gracefully: see the module docstring) and remove the folder."""
        self._stop(folder)
        shutil.rmtree(folder, ignore_errors=True)
        self._followed.discard(folder)

    def _stop(self, folder: Path) -> None:
        """Stop the run's process group: SIGTERM, SIGKILL after the grace period. The group is signalled only
        while one of its processes names `folder` on its command line (the runner's pid, which is the group's id,
        may have been reused since the run ended). Then the run's other processes (its engines and AIPerf: they
        die with the profiler, or are still stopping) are waited for, killed after the grace period, and its
        temporary directory is removed."""
        deadline = time.monotonic() + self.stop_grace_s
        pid = _read_pid(folder)
        if pid is not None and any(str(folder).encode() in cmdline for cmdline in _group(pid).values()):
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(pid, sig)
                except ProcessLookupError:
                    break
                self._reap(pid)
                while _group(pid) and (sig == signal.SIGKILL or time.monotonic() < deadline):
                    time.sleep(0.1)
                    self._reap(pid)
        tmpdir = _recorded_tmpdir(folder)
        if tmpdir is None:
            return
        while (left := _processes_in(tmpdir)) and time.monotonic() < deadline:
            time.sleep(0.1)
        for other in left:
            try:
                os.kill(other, signal.SIGKILL)
            except ProcessLookupError:
                pass
        while _processes_in(tmpdir):
            time.sleep(0.1)
        shutil.rmtree(tmpdir, ignore_errors=True)
        (folder / "tmpdir").unlink(missing_ok=True)

    def _reap(self, pid: int) -> None:
        for key, child in list(self._children.items()):
            if child.pid == pid and child.poll() is not None:
                self._children.pop(key)

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
        base = tempfile.gettempdir()
        short = len(base) + len(f"/{_RUN_TMP_PREFIX}XXXXXXXX") <= MAX_TMP_BASE
        tmpdir = tempfile.mkdtemp(prefix=_RUN_TMP_PREFIX, dir=base if short else "/tmp")
        (folder / "tmpdir").write_text(f"{tmpdir}\n")
        args = profiler_args(str(folder), str(folder / "out"), self.engines, str(folder / "progress.json"),
                             BASE_FILE in inputs)
        child = subprocess.Popen(["sh", "-c", _RUNNER, "sh", str(folder), self.python, "-m", "profiler", *args,
                                  *self.extra_args], start_new_session=True, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 env={**os.environ, "TMPDIR": tmpdir})
        self._children[job.spec_hash] = child
        (folder / "pid").write_text(f"{child.pid}\n")
        self._followed.add(folder)
        what = (f"restarted ({why}), attempt {attempt} of {self.attempts}" if attempt > 1
                else f"started; {why}" if why else "started")
        return Running(f"Profiling on {self.engines} engines (local process {what})", record_now=attempt > 1)

    def _restart(self, job: ProfileJob, folder: Path, why: str) -> Running:
        attempt = self._attempt(folder)
        log = _tail(folder / "profiler.log")
        self.cancel_folder(folder)  # whatever the dead run left: a process of its group, its temporary directory
        if attempt >= self.attempts:
            raise ProfilingError(f"{why} {attempt} time(s); giving up (last output: {log})")
        return self._start(job, folder, attempt + 1, why)

    def _finish(self, folder: Path) -> ProfileOutput:
        out = folder / "out"
        files = {str(path.relative_to(out)): path.read_bytes() for path in sorted(out.rglob("*")) if path.is_file()}
        try:
            return output_from_files(files, f"profiler output {out}")
        finally:
            self.cancel_folder(folder)

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


def _group(pgid: int) -> dict[int, bytes]:
    """The live (not zombie) processes of process group `pgid`: pid -> command line."""
    members = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[-1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                members[int(entry.name)] = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
    return members


def _processes_in(tmpdir: Path) -> list[int]:
    """Live processes working in `tmpdir` (their current directory is in it) or naming it in their environment or
    command line: a run's engines, AIPerf and its workers."""
    name = str(tmpdir)
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if (entry / "stat").read_text().rsplit(")", 1)[-1].split()[0] == "Z":
                continue
            cwd = os.readlink(entry / "cwd")
            if cwd == name or cwd.startswith(name + "/") or \
                    any(name.encode() in (entry / part).read_bytes() for part in ("environ", "cmdline")):
                found.append(int(entry.name))
        except (OSError, IndexError):
            continue
    return found


def _recorded_tmpdir(folder: Path) -> Path | None:
    try:
        text = (folder / "tmpdir").read_text().strip()
    except OSError:
        return None
    return Path(text) if text else None


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
