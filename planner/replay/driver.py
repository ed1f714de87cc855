"""Runs one replay inside Dynamo's virtualenv: `dynamo._core.run_mocker_trace_replay` with a scaling policy that
asks the parent process (`planner.replay.simulator`) for every decision.

Started as a script (`python driver.py READ_FD WRITE_FD`, not as part of the `planner` package) so it needs
nothing but the standard library and ai-dynamo. Protocol, one JSON object per line:

- parent -> driver, first line: the job (`trace`, `engine_args` per role, `workers`, `router_mode`,
  `trace_block_size`, `first_tick_ms`);
- driver -> parent: `{"tick": {...}}` with the simulator's snapshot (worker counts and the last interval's
  `traffic`; per-worker forward-pass snapshots are left out), answered by
  `{"target_prefill": int|null, "target_decode": int|null, "next_tick_ms": float|null}`;
- driver -> parent, last line: `{"result": {"summary", "per_request", "lifecycle_operations"}}`, or
  `{"error": "..."}`.
"""

from __future__ import annotations

import json
import os
import sys
import traceback

PER_REQUEST_FIELDS = ("arrival_time_ms", "ttft_ms", "itl_ms", "input_length", "output_length",
                      "reused_input_tokens", "terminal_status", "e2e_latency_ms")
SNAPSHOT_SKIP = ("prefill_fpm_snapshots", "decode_fpm_snapshots")


class RemotePolicy:
    """Dynamo's `scaling_policy` protocol, answered by the parent process."""

    def __init__(self, reader, writer, first_tick_ms: float) -> None:
        self.reader = reader
        self.writer = writer
        self.first_tick_ms = first_tick_ms

    def initial_tick_ms(self) -> float:
        return self.first_tick_ms

    def on_tick(self, result: dict) -> dict:
        tick = {key: value for key, value in result.items() if key not in SNAPSHOT_SKIP}
        send(self.writer, {"tick": tick})
        line = self.reader.readline()
        if not line:
            raise RuntimeError("the planner process closed the pipe")
        return json.loads(line)


def send(writer, message: dict) -> None:
    writer.write(json.dumps(message) + "\n")
    writer.flush()


def run(job: dict, reader, writer) -> dict:
    from dynamo._core import run_mocker_trace_replay

    policy = RemotePolicy(reader, writer, job["first_tick_ms"])
    native = run_mocker_trace_replay(
        [job["trace"]], prefill_engine_args=job["engine_args"]["prefill"],
        decode_engine_args=job["engine_args"]["decode"], num_prefill_workers=job["workers"]["prefill"],
        num_decode_workers=job["workers"]["decode"], router_mode=job["router_mode"], replay_mode="offline",
        trace_format="mooncake", trace_block_size=job["trace_block_size"], trace_shared_prefix_ratio=0.0,
        trace_num_prefix_groups=0, capture_per_request=True, capture_planner_details=False,
        scaling_policy=policy)
    per_request = [{field: request.get(field) for field in PER_REQUEST_FIELDS} for request in native.per_request]
    return {"summary": dict(native.summary), "per_request": per_request,
            "lifecycle_operations": [{"at_ms": op["at_ms"], "pool": op["pool"], "cause": op["cause"],
                                      "state_after_batch": op["state_after_batch"]}
                                     for op in native.lifecycle_operations]}


def main(argv: list[str]) -> int:
    reader = os.fdopen(int(argv[1]), "r")
    writer = os.fdopen(int(argv[2]), "w")
    try:
        job = json.loads(reader.readline())
        send(writer, {"result": run(job, reader, writer)})
    except Exception as error:  # noqa: BLE001 - reported to the parent, which names the failure
        send(writer, {"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()})
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
