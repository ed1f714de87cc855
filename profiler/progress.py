"""Progress of a measured profiling run: a line per measurement on a terminal, and a small JSON file that the
reconciler mirrors into `status.yaml`.

The file (`--progress-file PATH`, replaced atomically at every step) holds:

    {"phase": "measuring",              # planning | deploying | measuring | rendering | done | failed
     "done": 3, "total": 12,            # measurements (aiperf runs) finished / planned; total may grow
     "mapping": "decode TP=2 (vllm)",   # the engine being measured ("" when none)
     "point": "concurrency 8",          # the measurement in progress ("" when none)
     "elapsed_s": 41.7, "eta_s": 125.1, # seconds since start; estimated seconds left (null: unknown)
     "message": ""}                     # why it failed, for phase failed
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Literal, TextIO

Phase = Literal["planning", "deploying", "measuring", "rendering", "done", "failed"]
PHASES: tuple[Phase, ...] = ("planning", "deploying", "measuring", "rendering", "done", "failed")


@dataclass(frozen=True)
class ProgressState:
    """One snapshot of the run (the progress file's content)."""

    phase: Phase = "planning"
    done: int = 0
    total: int = 0
    mapping: str = ""
    point: str = ""
    elapsed_s: float = 0.0
    eta_s: float | None = None
    message: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "ProgressState":
        data = json.loads(text)
        if data.get("phase") not in PHASES:
            raise ValueError(f"unknown progress phase {data.get('phase')!r}")
        return cls(**{key: data[key] for key in cls.__dataclass_fields__ if key in data})

    def line(self) -> str:
        """`[3/12] decode TP=2 (vllm): concurrency 8 — 41s elapsed, ~2m05s left`."""
        eta = f", ~{_duration(self.eta_s)} left" if self.eta_s is not None else ""
        where = ": ".join(part for part in (self.mapping, self.point) if part) or self.phase
        return f"[{self.done}/{self.total}] {where} ({_duration(self.elapsed_s)} elapsed{eta})"


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def interactive(stream: TextIO) -> bool:
    """Progress lines only on a terminal and never in CI (`CI` set)."""
    return stream.isatty() and not os.environ.get("CI")


@dataclass
class Progress:
    """Tracks the run; writes the progress file and prints a line per measurement when asked to."""

    path: Path | None = None
    stream: TextIO | None = None  # where lines go (None: nowhere)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    state: ProgressState = field(default_factory=ProgressState)
    _started: float | None = field(default=None, repr=False)
    _measure_s: list[float] = field(default_factory=list, repr=False)

    @classmethod
    def for_cli(cls, path: Path | None) -> "Progress":
        """A tracker for `python -m profiler`: lines on stderr when it is a terminal, the file when given."""
        return cls(path=path, stream=sys.stderr if interactive(sys.stderr) else None)

    def _now(self) -> float:
        now = self.clock()
        if self._started is None:
            self._started = now
        return now - self._started

    def update(self, **changes: object) -> None:
        """Change the snapshot (phase, total, mapping, point, message) and write it."""
        elapsed = self._now()
        self.state = replace(self.state, **changes, elapsed_s=round(elapsed, 1))  # type: ignore[arg-type]
        self.state = replace(self.state, eta_s=self._eta())
        self._write()

    def measured(self, seconds: float) -> None:
        """One measurement finished after `seconds`; prints its line."""
        self._measure_s.append(seconds)
        self.update(done=self.state.done + 1)
        if self.stream is not None:
            print(self.state.line(), file=self.stream, flush=True)

    def _eta(self) -> float | None:
        if not self._measure_s:
            return None
        mean = sum(self._measure_s) / len(self._measure_s)
        return round(mean * max(0, self.state.total - self.state.done), 1)

    def _write(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        temporary.write_text(self.state.to_json())
        os.replace(temporary, self.path)


def read_progress(path: Path) -> ProgressState | None:
    """The snapshot in a progress file, or None when there is none yet (or it cannot be read)."""
    try:
        return ProgressState.from_json(path.read_text())
    except (OSError, ValueError, TypeError):
        return None
