"""Measured (online) profiling: this profiler's plan vs Dynamo's default online plan, on engines with known curves.

Request: the quick-start's online DGDR (`gitops_sla/examples/dynamo-samples/profile_sla_dgdr.yaml`: Qwen/Qwen3-0.6B,
vLLM, ISL 3000, OSL 150, TTFT 200 ms, ITL 20 ms; no AI Configurator system, so no prior). Engines: Dynamo 1.6.1's
frontend + mocker on 127.0.0.1 (`local-dynamo`) timed by `profiler.engines.timing.reference_curves` (known truth).

Counted for this profiler: deployments, AIPerf runs and wall time of a real run (`python -m profiler` in-process).
Counted for Dynamo: its default online plan for the same request from its profiler's logic (`profile_sla.py`,
`profile_prefill.py`, `profile_decode.py`; docs/online-profiling.md): every candidate TP (1, 2, 4, 8 for a dense
model on one 8-GPU node) gets a prefill deployment with one AIPerf run at the SLA's ISL and a decode deployment
with one warm-up and one measured run per concurrency of `get_num_request_range(1, kv // (isl + osl), 6)`; then the
chosen prefill engine is redeployed for 16 interpolation ISLs (`range(100, ctx - 512, (ctx - 612) // 16)`) and the
chosen decode engine for ISL `range(100, ctx - 500, (ctx - 500) // 6)` x concurrencies `get_num_request_range(1,
kv // (isl + 500), 6)`, two runs each. Its wall time is estimated (not run: hours here) as its AIPerf runs x this
run's median seconds per AIPerf run + its deployments x this run's median seconds per deployment.
Dynamo's pick is the pick of its rule over the true curves at its sweep points (what it would measure).
Curve error: after profiling, the chosen engines are deployed again and measured at held-out points (prefill ISL
1500 and 4500; decode one concurrency between the measured ones), compared with the profile's curves
(`prefill_raw_data.json` interpolated; the decode line) — these runs are not counted.

Usage: python benchmarks/online_profile.py --dynamo-python PY [--runs 1] [--write]
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from profiler.engines import EngineMapping, ProviderOptions, create  # noqa: E402
from profiler.engines.local_dynamo import tiny_model_dir  # noqa: E402
from profiler.engines.timing import reference_curves  # noqa: E402
from profiler.estimate.sweep import get_num_request_range  # noqa: E402
from profiler.measure.aiperf import Workload, find_aiperf, run_aiperf  # noqa: E402
from profiler.measure.sweep import MeasureSettings  # noqa: E402
from profiler.pipeline import profile  # noqa: E402
from profiler.progress import Progress  # noqa: E402
from profiler.request_file import request_from_file  # noqa: E402
from profiler.select import pick  # noqa: E402

REQUEST = ROOT / "gitops_sla/examples/dynamo-samples/profile_sla_dgdr.yaml"
MAX_CONTEXT = 40960
TP_CANDIDATES = (1, 2, 4, 8)
GRANULARITY = 6
PREFILL_GRANULARITY = 16
DECODE_OSL = 500
SECTION = "## Online profiling (P3)"


def dynamo_plan(isl: int, osl: int, ttft: float, itl: float) -> dict:
    """Dynamo's default online plan for the request: counts, and its pick over the true curves."""
    runs = deployments = 0
    prefill_points, decode_points = [], []
    for tp in TP_CANDIDATES:
        curves = reference_curves(tp, MAX_CONTEXT)
        deployments += 2
        runs += 1
        prefill_points.append((tp, curves.ttft_ms(isl), isl / curves.ttft_ms(isl) / tp * 1000))
        for concurrency in get_num_request_range(1, curves.max_kv_tokens // (isl + osl), GRANULARITY):
            runs += 2
            value = curves.itl_ms(concurrency * (isl + osl / 2), isl + osl / 2)
            decode_points.append((tp, concurrency, value, concurrency / value * 1000 / tp))
    prefill_pick = pick([p[1] for p in prefill_points], [p[2] for p in prefill_points], ttft)
    decode_pick = pick([p[2] for p in decode_points], [p[3] for p in decode_points], itl)
    chosen_decode = decode_points[decode_pick.index]
    deployments += 2
    runs += len(range(100, MAX_CONTEXT - 512, (MAX_CONTEXT - 612) // PREFILL_GRANULARITY))
    kv = reference_curves(chosen_decode[0], MAX_CONTEXT).max_kv_tokens
    for context in range(100, MAX_CONTEXT - DECODE_OSL, (MAX_CONTEXT - DECODE_OSL) // GRANULARITY):
        if kv // (context + DECODE_OSL) == 0:
            break
        runs += 2 * len(get_num_request_range(1, kv // (context + DECODE_OSL), GRANULARITY))
    return {"runs": runs, "deployments": deployments, "prefill": f"TP={prefill_points[prefill_pick.index][0]}",
            "decode": f"TP={chosen_decode[0]}", "decode_concurrency": chosen_decode[1]}


class _Timed:
    """Wraps the provider to time each deployment's start."""

    def __init__(self, provider):
        self.provider, self.name, self.starts = provider, provider.name, []

    @property
    def fixed_mapping(self):
        return None

    def acquire(self, mapping):
        from contextlib import contextmanager

        @contextmanager
        def timed():
            started = time.monotonic()
            with self.provider.acquire(mapping) as endpoint:
                self.starts.append(time.monotonic() - started)
                yield endpoint
        return timed()


def held_out_error(provider, aiperf: Path, output: Path, request) -> tuple[float, float]:
    """Relative errors of the profile's curves at held-out points (max over points), measured afresh."""
    data = json.loads((output / "profile.json").read_text())
    prefill_curve = json.loads((output / "prefill_raw_data.json").read_text())
    sla = request.config.sla
    model = request.config.deployment.model
    errors_ttft, errors_itl = [], []
    prefill_tp = data["prefill"]["num_gpus"]
    with provider.acquire(EngineMapping("vllm", model, "agg", tp=prefill_tp)) as endpoint:
        for isl in (1500, 4500):
            run = run_aiperf(aiperf, endpoint, Workload(isl=isl, osl=2, concurrency=1, request_count=4, seed=7))
            measured = statistics.median(r.ttft_ms for r in run.records)
            isls = statistics.median(r.isl for r in run.records)
            predicted = float(np.interp(isls, prefill_curve["prefill_isl"], prefill_curve["prefill_ttft"]))
            errors_ttft.append(abs(predicted - measured) / measured)
    decode = data["measured"]["decode_points"]
    decode_tp = data["decode"]["num_gpus"]
    concurrencies = sorted(p["concurrency"] for p in decode)
    held = next((c for c in range(concurrencies[0] + 1, concurrencies[-1]) if c not in concurrencies), concurrencies[-1] + 1)
    line = np.polyfit([p["concurrency"] for p in decode], [p["itl_ms"] for p in decode], 1)
    osl = min(sla.osl, 100)
    with provider.acquire(EngineMapping("vllm", model, "agg", tp=decode_tp)) as endpoint:
        run = run_aiperf(aiperf, endpoint, Workload(isl=sla.isl, osl=osl, concurrency=held, request_count=2 * held + 2,
                                                     seed=7))
        errors_itl.append(abs(float(np.polyval(line, held)) - run.itl_ms) / run.itl_ms)
    return max(errors_ttft), max(errors_itl)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dynamo-python", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    request = request_from_file(REQUEST, base_config=None, name=None, namespace=None)
    sla = request.config.sla
    plan = dynamo_plan(sla.isl, sla.osl, sla.ttft, sla.itl)
    rows = []
    with tempfile.TemporaryDirectory(prefix="online-bench-") as scratch:
        model_dir = tiny_model_dir(args.dynamo_python, MAX_CONTEXT, root=Path(scratch))
        provider = create("local-dynamo", ProviderOptions(dynamo_python=args.dynamo_python, tokenizer_dir=model_dir),
                          request.config)
        aiperf = find_aiperf(args.dynamo_python)
        for index in range(args.runs):
            timed = _Timed(provider)
            progress = Progress()
            started = time.monotonic()
            result = profile(request, engines=timed, measure=MeasureSettings(aiperf=aiperf, progress=progress))
            wall = time.monotonic() - started
            output = Path(scratch) / f"out{index}"
            for name, content in result.files.items():
                (output / name).parent.mkdir(parents=True, exist_ok=True)
                (output / name).write_bytes(content)
            measured = json.loads((output / "profile.json").read_text())["measured"]
            ttft_error, itl_error = held_out_error(provider, aiperf, output, request)
            per_run = wall / max(1, measured["aiperf_runs"])
            rows.append({
                "wall_s": wall, "runs": measured["aiperf_runs"], "deployments": measured["deployments"],
                "deploy_s": statistics.median(timed.starts), "per_run_s": per_run,
                "prefill": result.prefill.mapping, "decode": result.decode.mapping,
                "concurrency": result.decode.concurrency, "ttft_error": ttft_error, "itl_error": itl_error,
            })
            print(json.dumps({**rows[-1], "decode_points": measured.get("decode_points")}), flush=True)
    med = {key: statistics.median(row[key] for row in rows) for key in ("wall_s", "runs", "deployments", "deploy_s",
                                                                        "per_run_s", "ttft_error", "itl_error")}
    dynamo_wall = plan["runs"] * med["per_run_s"] + plan["deployments"] * med["deploy_s"]
    picks = sorted({(r["prefill"], r["decode"]) for r in rows})
    lines = [
        SECTION,
        "",
        f"`python benchmarks/online_profile.py --runs {args.runs}` on {platform.machine()}, Python "
        f"{platform.python_version()}, {datetime.date.today().isoformat()}, 2 shared cores (busy: other test suites "
        f"ran meanwhile). Median of {len(rows)} run(s). Request: the quick-start's online DGDR (Qwen3-0.6B, vLLM, "
        "ISL 3000, OSL 150, TTFT 200 ms, ITL 20 ms; no prior). Engines: Dynamo 1.6.1 frontend + mocker on 127.0.0.1 "
        "timed by the reference curves; AIPerf 0.13.0. Dynamo's column is counted from its profiler's logic, not run "
        "(see the script's docstring); its wall time is its counts x this run's median seconds per AIPerf run "
        f"({med['per_run_s']:.1f} s) and per deployment start ({med['deploy_s']:.1f} s).",
        "",
        "| | this profiler | Dynamo's default online plan | ratio |",
        "|---|---|---|---|",
        f"| deployments | {med['deployments']:g} | {plan['deployments']} | {med['deployments'] / plan['deployments']:.2f} |",
        f"| AIPerf runs | {med['runs']:g} | {plan['runs']} | {med['runs'] / plan['runs']:.2f} |",
        f"| wall time | {med['wall_s']:.0f} s | ~{dynamo_wall:.0f} s (estimated) | {med['wall_s'] / dynamo_wall:.2f} |",
        f"| pick (prefill, decode) | {', '.join(f'{p} + {d}' for p, d in picks)} | {plan['prefill']} + {plan['decode']} | "
        f"{'same' if picks == [(plan['prefill'], plan['decode'])] else 'differs'} |",
        f"| curve error at held-out points | TTFT {med['ttft_error'] * 100:.1f} %, ITL {med['itl_error'] * 100:.1f} % | - | - |",
        "",
    ]
    print("\n".join(lines))
    if args.write:
        results = ROOT / "benchmarks/RESULTS.md"
        text = results.read_text()
        if SECTION in text:
            head, _, tail = text.partition(SECTION)
            rest = tail.split("\n## ", 1)
            text = head + "\n".join(lines) + ("\n## " + rest[1] if len(rest) > 1 else "")
        else:
            text = text.rstrip("\n") + "\n\n" + "\n".join(lines)
        results.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
