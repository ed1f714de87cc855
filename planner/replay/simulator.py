"""Runs Dynamo's serving simulator (`dynamo.replay`'s native core, ai-dynamo 1.6.1) in Dynamo's own virtualenv.

The simulator is a separate interpreter (`driver.py`, run by the venv's python) so the project's environment
stays free of Dynamo's pins. Two pipes connect it to this process: every scaling tick the driver sends the
simulator's snapshot and this process answers with the policy's decision, so the policy code runs here.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

DRIVER = Path(__file__).with_name("driver.py")
DYNAMO_VERSION = "1.6.1"
DEFAULT_VENV = Path.home() / ".cache" / "gitops-sla" / f"dynamo-{DYNAMO_VERSION}"
SETUP_HINT = ("build it with scripts/setup-dynamo-venv (it prints the python to use), then pass --dynamo-python or "
              "set GITOPS_SLA_DYNAMO_VENV")


class SimulatorError(RuntimeError):
    """The simulator could not be started or failed; the message says why and what to do."""


class ScalingPolicy(Protocol):
    """Dynamo's `scaling_policy` hook: the first tick's time and one decision per tick."""

    def initial_tick_ms(self) -> float: ...

    def on_tick(self, tick: dict) -> dict: ...


@dataclass
class SimulatorRun:
    """What one replay returned, plus every tick the policy saw and what it answered."""

    summary: dict
    per_request: list[dict]
    lifecycle_operations: list[dict]
    ticks: list[dict] = field(default_factory=list)
    decisions: list[dict] = field(default_factory=list)


def dynamo_python(explicit: str | None = None) -> str:
    """The python of Dynamo's virtualenv: `explicit`, else `$GITOPS_SLA_DYNAMO_PYTHON`, else
    `$GITOPS_SLA_DYNAMO_VENV/bin/python`, else the default venv's."""
    if explicit or os.environ.get("GITOPS_SLA_DYNAMO_PYTHON"):
        candidate = Path(explicit or os.environ["GITOPS_SLA_DYNAMO_PYTHON"])
        source = "--dynamo-python" if explicit else "$GITOPS_SLA_DYNAMO_PYTHON"
    else:
        venv = os.environ.get("GITOPS_SLA_DYNAMO_VENV")
        candidate = Path(venv) / "bin" / "python" if venv else DEFAULT_VENV / "bin" / "python"
        source = "$GITOPS_SLA_DYNAMO_VENV" if venv else f"the default venv {DEFAULT_VENV}"
    if not candidate.is_file():
        raise SimulatorError(f"Dynamo {DYNAMO_VERSION}'s python not found at {candidate} ({source}); {SETUP_HINT}")
    return str(candidate)


def run_simulation(python: str, job: dict, policy: ScalingPolicy) -> SimulatorRun:
    """Replay `job` (see driver.py) in the simulator, asking `policy` at every tick."""
    to_driver_read, to_driver_write = os.pipe()
    from_driver_read, from_driver_write = os.pipe()
    env = dict(os.environ, PYTHONPATH="")
    log = tempfile.TemporaryFile()
    try:
        process = subprocess.Popen([python, str(DRIVER), str(to_driver_read), str(from_driver_write)],
                                   pass_fds=(to_driver_read, from_driver_write), stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=log, env=env, start_new_session=True)
    except OSError as error:
        log.close()
        for fd in (to_driver_read, to_driver_write, from_driver_read, from_driver_write):
            os.close(fd)
        raise SimulatorError(f"cannot start {python}: {error}; {SETUP_HINT}") from None
    os.close(to_driver_read)
    os.close(from_driver_write)
    ticks: list[dict] = []
    decisions: list[dict] = []
    message: dict = {}
    try:
        with os.fdopen(to_driver_write, "w") as writer, os.fdopen(from_driver_read, "r") as reader:
            writer.write(json.dumps(dict(job, first_tick_ms=policy.initial_tick_ms())) + "\n")
            writer.flush()
            for line in reader:
                message = json.loads(line)
                if "tick" not in message:
                    break
                ticks.append(message["tick"])
                decision = policy.on_tick(message["tick"])
                decisions.append(decision)
                writer.write(json.dumps(decision) + "\n")
                writer.flush()
    finally:
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.seek(0)
        output = log.read().decode(errors="replace").strip()
        log.close()
    if "result" not in message:
        detail = message.get("error") or (output.splitlines() or ["no output"])[-1]
        print(message.get("traceback", output[-4000:]), file=sys.stderr)
        raise SimulatorError(f"Dynamo's simulator failed: {detail}")
    result = message["result"]
    return SimulatorRun(result["summary"], result["per_request"], result["lifecycle_operations"], ticks, decisions)
