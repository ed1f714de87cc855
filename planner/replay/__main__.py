"""`python -m planner.replay --trace FILE --profile DIR [--policy NAME ...] [--json]`."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Sequence

from planner.core import Predictors
from planner.policy import PolicyConfig, Replicas
from planner.predictors import PREDICTORS, make_predictor
from planner.profile_data import ProfileDataError
from planner.replay.policies import (OraclePolicy, PlannerPolicy, StaticPolicy, ideal_hit_rates,
                                     interval_needs)
from planner.replay.profile import ReplayProfile, engine_args, load_replay_profile, write_mocker_npz
from planner.replay.report import PolicyResult, plot, summarize, table
from planner.replay.simulator import SimulatorError, dynamo_python, run_simulation
from planner.replay.traces import MOONCAKE_BLOCK_SIZE, TraceError, read_trace, scale_rate, write_mooncake

OURS = tuple(f"ours-{kind}" for kind in PREDICTORS)
POLICIES = ("dynamo", "dynamo-headroom", "static-peak", "oracle") + OURS
DEFAULT_TTFT_MS, DEFAULT_ITL_MS = 500.0, 50.0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m planner.replay",
        description="Replay a request trace through Dynamo's serving simulator (dynamo.replay, ai-dynamo 1.6.1) "
                    "under each scaling policy; report SLA attainment, GPU-hours and scaling actions.")
    parser.add_argument("--trace", required=True, help="Mooncake JSONL or Azure LLM inference CSV")
    parser.add_argument("--profile", required=True, help="a profiler output folder (python -m profiler --output)")
    parser.add_argument("--policy", action="append", choices=POLICIES,
                        help=f"policy to replay (repeatable; default: all of {', '.join(POLICIES)})")
    parser.add_argument("--json", action="store_true", help="one JSON object per policy per line on stdout")
    parser.add_argument("--ttft", type=float, help="TTFT SLA in ms (default: the profile's, else 500)")
    parser.add_argument("--itl", type=float, help="ITL SLA in ms (default: the profile's, else 50)")
    parser.add_argument("--adjustment-interval", type=int, default=60, help="seconds between decisions (60)")
    parser.add_argument("--startup-delay", type=float, default=180.0,
                        help="seconds until a new replica serves (180)")
    parser.add_argument("--scale-down-stabilization", type=int, default=300,
                        help="our policy's scale-down window in seconds (300)")
    parser.add_argument("--prefill-utilization", type=float, default=1.0,
                        help="size prefill to this share of the profiled throughput (our policy, dynamo-headroom and "
                             "the oracle; 1.0: Dynamo's)")
    parser.add_argument("--prefix-cache-discount", action="store_true",
                        help="our policy and dynamo-headroom discount prefill by the prefix-cache hit rate the "
                             "simulator observed")
    parser.add_argument("--max-gpu-budget", type=int, default=-1, help="GPU budget for every policy (-1: none)")
    parser.add_argument("--rate-scale", type=float, default=1.0,
                        help="multiply the request rate, keeping the trace's shape over time (1.0)")
    parser.add_argument("--router", choices=("kv_router", "round_robin"), default="kv_router",
                        help="the simulator's router (kv_router: KV- and prefix-aware, Dynamo's default)")
    parser.add_argument("--trace-block-size", type=int, default=MOONCAKE_BLOCK_SIZE,
                        help="tokens per hash id in a Mooncake trace (512, Mooncake's)")
    parser.add_argument("--plot", default="replay.png", help="GPUs-over-time plot (PNG; '' for none)")
    parser.add_argument("--dynamo-python", help="python of Dynamo's venv (default: $GITOPS_SLA_DYNAMO_VENV/bin/python, "
                                                "else the one scripts/setup-dynamo-venv builds)")
    return parser


def planner_policy(name: str, base: PolicyConfig, profile: ReplayProfile, end_ms: float, window: int
                   ) -> PlannerPolicy:
    """`dynamo` (Dynamo 0.8's planner: ARIMA, no extras), `dynamo-headroom` (the same at our prefill
    utilisation) or `ours-<predictor>`."""
    if name == "dynamo":
        config, kind = replace(base, scale_down_stabilization_s=0, prefill_utilization=1.0,
                               prefix_cache_discount=False), "arima"
    elif name == "dynamo-headroom":
        config, kind = replace(base, scale_down_stabilization_s=0), "arima"
    else:
        config, kind = base, name.removeprefix("ours-")
    predictors = Predictors.of_kind(kind, lambda k: make_predictor(k, window))
    return PlannerPolicy(name, config, profile.interpolators, predictors, end_ms)


def replay(args: argparse.Namespace) -> tuple[list[PolicyResult], ReplayProfile, str]:
    python = dynamo_python(args.dynamo_python)
    profile = load_replay_profile(args.profile)
    ttft = args.ttft or profile.ttft_ms or DEFAULT_TTFT_MS
    itl = args.itl or profile.itl_ms or DEFAULT_ITL_MS
    requests = scale_rate(read_trace(args.trace, args.trace_block_size), args.rate_scale)
    base = PolicyConfig(adjustment_interval=args.adjustment_interval, itl_ms=itl,
                        prefill_engine_num_gpu=profile.prefill_gpus, decode_engine_num_gpu=profile.decode_gpus,
                        max_gpu_budget=args.max_gpu_budget,
                        scale_down_stabilization_s=args.scale_down_stabilization,
                        prefill_utilization=args.prefill_utilization,
                        prefix_cache_discount=args.prefix_cache_discount)
    hits = ideal_hit_rates(requests, args.adjustment_interval, args.trace_block_size)
    needs = interval_needs(requests, profile.interpolators, base, itl, hits)
    end_ms = needs[-1].start_ms + args.adjustment_interval * 1000.0
    oracle = OraclePolicy("oracle", needs, args.adjustment_interval, args.startup_delay)
    start = oracle.initial()
    peak = Replicas(max(n.replicas.prefill for n in needs), max(n.replicas.decode for n in needs))
    results = []
    with tempfile.TemporaryDirectory(prefix="planner-replay-") as temp:
        trace = write_mooncake(requests, Path(temp) / "trace.jsonl")
        npz = write_mocker_npz(profile, Path(temp) / "perf.npz")
        roles = {role: engine_args(npz, profile, role, args.startup_delay) for role in ("prefill", "decode")}
        for name in args.policy or POLICIES:
            if name == "oracle":
                policy, initial = oracle, start
            elif name == "static-peak":
                policy, initial = StaticPolicy(name, peak), peak
            else:
                policy, initial = planner_policy(name, base, profile, end_ms, 50), start
            job = {"trace": str(trace), "engine_args": roles, "router_mode": args.router,
                   "trace_block_size": args.trace_block_size,
                   "workers": {"prefill": initial.prefill, "decode": initial.decode}}
            run = run_simulation(python, job, policy)
            results.append(summarize(name, run, ttft, itl, profile.prefill_gpus, profile.decode_gpus))
    return results, profile, f"TTFT <= {ttft:g} ms, ITL <= {itl:g} ms"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        results, profile, sla = replay(args)
    except (TraceError, ProfileDataError, SimulatorError, OSError) as error:
        print(f"planner.replay: error: {error}", file=sys.stderr)
        return 2
    oracle = next((r.gpu_hours for r in results if r.policy == "oracle"), None)
    if args.plot:
        plot(results, args.plot, f"{Path(args.trace).name}: {sla}", profile.prefill_gpus, profile.decode_gpus)
    if args.json:
        for result in results:
            print(json.dumps(result.to_json(oracle), sort_keys=True))
        return 0
    print(f"{Path(args.trace).name} x{args.rate_scale:g}, profile {args.profile}, SLA {sla}, "
          f"interval {args.adjustment_interval} s, start-up delay {args.startup_delay:g} s\n")
    print(table(results, oracle))
    if args.plot:
        print(f"\nplot: {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
