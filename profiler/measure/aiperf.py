"""Runs AIPerf 0.13.0 as its CLI in a subprocess against a serving endpoint and reads its exports.

A local tokenizer directory only (never a hub download; `HF_HUB_OFFLINE` is left unset because 0.13.0 then
mistakes a local path for a hub id); its temporary files (`aiperf_mmap_*`, work dirs) go to a TMPDIR inside
the run's own directory, which is removed afterwards. The process runs in its own process group, dies with
this process, and is stopped on every exit path.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from profiler.engines.dynamo_stack import die_with_parent, stop
from profiler.engines.types import ServingEndpoint
from profiler.errors import ProfilingError

AIPERF_VERSION = "0.13.0"
RUN_TIMEOUT_S = 900.0
# AIPerf's services talk over Unix sockets under its TMPDIR, and a socket path holds at most 107 bytes. Its
# longest is TMPDIR + "/tmpXXXXXXXX/aiperf/dataset_manager_proxy_frontend.ipc" (54), and its TMPDIR here is
# BASE + "/gitops-sla-aiperf-XXXXXXXX/tmp" (31): so BASE, the current temporary directory, may be 22 characters
# long; when it is longer, the run goes under /tmp.
MAX_TMP_BASE = 107 - 54 - 31


@dataclass(frozen=True)
class RequestRecord:
    """One request as AIPerf measured it."""

    isl: int
    osl: int
    ttft_ms: float
    itl_ms: float | None  # None for a one-token answer


@dataclass(frozen=True)
class AiperfRun:
    """One AIPerf run: its workload, per-request records and aggregates."""

    concurrency: int
    isl: int
    osl: int
    records: tuple[RequestRecord, ...]
    ttft_ms: float
    itl_ms: float
    output_tokens_per_s: float
    seconds: float


@dataclass(frozen=True)
class Workload:
    """What to send: `request_count` requests at `concurrency`, ISL mean/stddev, a fixed OSL."""

    isl: int
    osl: int
    concurrency: int
    request_count: int
    isl_stddev: int = 0
    seed: int = 100


def aiperf_command(executable: Path, endpoint: ServingEndpoint, workload: Workload, artifacts: Path) -> list[str]:
    """Dynamo's profiler flags (`utils/aiperf.py`) for one run, with prompts of random tokens (what vLLM's
    `random` benchmark dataset sends) instead of AIPerf's default Shakespeare corpus, which it tokenizes anew in
    every run: the engines' timing does not depend on the text. Every prompt starts with its own marker: AIPerf's
    prompts for one seed share their beginnings (a 4,500-token prompt began with the 1,500-token one), and an
    engine's prefix cache then served part of the prompt, so its TTFT measured a shorter prefill."""
    osl = str(workload.osl)
    return [
        str(executable), "profile", "--model", endpoint.model, "--url", endpoint.url, "--endpoint-type", "chat",
        "--streaming", "--tokenizer", str(endpoint.tokenizer_dir),
        "--synthetic-input-tokens-mean", str(workload.isl), "--synthetic-input-tokens-stddev", str(workload.isl_stddev),
        "--prompt-corpus", "random",  # token ids drawn from the vocabulary: no corpus to tokenize (~10 s a run)
        "--cache-bust", "first-turn-prefix",  # a unique first block per prompt: no prefix-cache hit shortens a TTFT
        "--output-tokens-mean", osl, "--output-tokens-stddev", "0",
        "--extra-inputs", f"max_tokens:{osl}", "--extra-inputs", f"min_tokens:{osl}", "--extra-inputs", "ignore_eos:true",
        "--concurrency", str(workload.concurrency), "--request-count", str(workload.request_count),
        "--warmup-request-count", str(min(workload.concurrency, 4)),
        "--random-seed", str(workload.seed), "--ui-type", "none", "--no-gpu-telemetry", "--no-server-metrics",
        "--request-timeout-seconds", "600", "--artifact-dir", str(artifacts),
    ]


def find_aiperf(python: Path | None) -> Path:
    """AIPerf next to the given python (the Dynamo virtualenv), else on PATH."""
    candidates = [python.parent / "aiperf"] if python else []
    found = shutil.which("aiperf")
    candidates += [Path(found)] if found else []
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ProfilingError(
        f"AIPerf {AIPERF_VERSION} was not found (looked next to {python or 'the Dynamo python'} and on PATH); "
        "build the virtualenv with scripts/setup-dynamo-venv and pass --dynamo-python"
    )


def _metric(data: dict, name: str, key: str = "avg") -> float:
    value = data.get(name, {})
    return float(value.get(key)) if isinstance(value, dict) and value.get(key) is not None else float("nan")


def _records(path: Path) -> tuple[RequestRecord, ...]:
    """The measured requests of `profile_export.jsonl`; the warm-up requests (also exported) are left out."""
    records = []
    for line in path.read_text().splitlines():
        record = json.loads(line)
        metrics = record.get("metrics", {})
        if "time_to_first_token" not in metrics or "input_sequence_length" not in metrics:
            continue
        if record.get("metadata", {}).get("benchmark_phase") == "warmup":
            continue
        itl = metrics.get("inter_token_latency", {}).get("value")
        records.append(RequestRecord(
            isl=int(metrics["input_sequence_length"]["value"]),
            osl=int(metrics.get("output_sequence_length", {}).get("value", 0)),
            ttft_ms=float(metrics["time_to_first_token"]["value"]),
            itl_ms=float(itl) if itl is not None else None,
        ))
    return tuple(records)


def run_aiperf(executable: Path, endpoint: ServingEndpoint, workload: Workload) -> AiperfRun:
    """Run AIPerf once; raises `ProfilingError` when it fails or measures nothing."""
    base = tempfile.gettempdir()
    work = Path(tempfile.mkdtemp(prefix="gitops-sla-aiperf-", dir=base if len(base) <= MAX_TMP_BASE else "/tmp"))
    started = time.monotonic()
    try:
        tmp = work / "tmp"
        tmp.mkdir()
        env = {key: value for key, value in os.environ.items() if key != "HF_HUB_OFFLINE"}
        env.update(TMPDIR=str(tmp), HOME=str(work), HF_HUB_DISABLE_TELEMETRY="1")
        artifacts = work / "artifacts"
        with (work / "aiperf.log").open("wb") as log:
            process = subprocess.Popen(
                aiperf_command(executable, endpoint, workload, artifacts), env=env, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=die_with_parent, cwd=work,
            )
            try:
                code = process.wait(timeout=RUN_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                code = None
            finally:
                stop(process)
        summary = artifacts / "profile_export_aiperf.json"
        if code != 0 or not summary.is_file():
            tail = "\n".join((work / "aiperf.log").read_text(errors="replace").strip().splitlines()[-8:])
            raise ProfilingError(
                f"AIPerf against {endpoint.url} ({workload}) "
                f"{'timed out' if code is None else f'exited with status {code}'}:\n{tail}"
            )
        data = json.loads(summary.read_text())
        records = _records(artifacts / "profile_export.jsonl")
        if not records:
            raise ProfilingError(f"AIPerf against {endpoint.url} measured no successful request ({workload})")
        return AiperfRun(
            concurrency=workload.concurrency, isl=workload.isl, osl=workload.osl, records=records,
            ttft_ms=_metric(data, "time_to_first_token"), itl_ms=_metric(data, "inter_token_latency"),
            output_tokens_per_s=_metric(data, "output_token_throughput"), seconds=time.monotonic() - started,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
