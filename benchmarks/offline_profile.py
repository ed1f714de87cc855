"""Offline profiling: this project's profiler end to end vs `aiconfigurator cli default`, same request.

Main request: the quick-start's AI Configurator sample (Qwen/Qwen3-32B, TensorRT-LLM, h200_sxm, ISL 3000,
OSL 150, TTFT 500 ms, ITL 30 ms). Both are timed as a user runs them, each in a fresh process, alternating:

    python -m profiler --config <sample> --output DIR
    aiconfigurator cli default --model-path Qwen/Qwen3-32B --system h200_sxm --backend trtllm \
        --total-gpus 8 --isl 3000 --osl 150 --ttft 500 --tpot 30 --top-n 1 --save-dir DIR

(8 GPUs: one node, the range the profiler sweeps per engine.) The profiler overlaps AI Configurator's table
load with its imports on a second core, so it is also timed pinned to one core (`taskset -c 0`), as the CLI
effectively runs. A second request, DeepSeek-V3 (MoE) on SGLang with 8-16 GPUs per engine, shows how both
scale with the model. Also timed: a repeated profile in one process, as the reconciler runs it, and where a
fresh process spends its time. The picks are printed side by
side, with a derived figure that puts both on one scale: output tokens/s per GPU of a prefill+decode pair at
the ideal P:D ratio, `1 / (isl / (osl * prefill_tps_per_gpu) + 1 / decode_tps_per_gpu)`.

Usage: python benchmarks/offline_profile.py [--runs 5] [--cli-runs 3] [--moe-runs 3] [--write]
(`--write` replaces this benchmark's section of benchmarks/RESULTS.md).
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml
from aiconfigurator.sdk.picking import _AUTOSCALE_TTFT_CORRECTION_FACTOR as AIC_TTFT_FACTOR

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "gitops_sla/examples/dynamo-samples/profile_sla_aic_dgdr.yaml"
RESULTS = ROOT / "benchmarks/RESULTS.md"
SECTION = "## Offline profiler vs `aiconfigurator cli default` (issue 3)"


@dataclass(frozen=True)
class Case:
    title: str
    model: str
    backend: str
    isl: int
    osl: int
    ttft: float
    itl: float
    total_gpus: int
    config: Path | dict  # the profiler's input: a file, or a profile config to write

    def cli(self, save_dir: Path) -> list[str]:
        return [
            "aiconfigurator", "cli", "default", "--model-path", self.model, "--system", "h200_sxm",
            "--backend", self.backend, "--total-gpus", str(self.total_gpus), "--isl", str(self.isl),
            "--osl", str(self.osl), "--ttft", f"{self.ttft:g}", "--tpot", f"{self.itl:g}", "--top-n", "1",
            "--no-color", "--save-dir", str(save_dir),
        ]


QUICK_START = Case("quick-start AIC sample: Qwen/Qwen3-32B, trtllm", "Qwen/Qwen3-32B", "trtllm", 3000, 150, 500, 30, 8, SAMPLE)
MOE = Case(
    "DeepSeek-V3 (MoE), sglang, 8-16 GPUs per engine", "deepseek-ai/DeepSeek-V3", "sglang", 4000, 500, 1000, 50, 16,
    {
        "deployment": {"model": "deepseek-ai/DeepSeek-V3"},
        "engine": {"backend": "sglang"},
        "sweep": {"useAiConfigurator": True, "aicSystem": "h200_sxm"},
        "sla": {"isl": 4000, "osl": 500, "ttft": 1000.0, "itl": 50.0},
        "hardware": {"minNumGpusPerEngine": 8, "maxNumGpusPerEngine": 16},
    },
)


@dataclass
class Measured:
    case: Case
    ours: list[float]
    one_core: list[float]  # the profiler pinned to one core (empty without taskset)
    cli: list[float]
    ours_cpu: list[float]  # CPU seconds (user + system, the process and its children) of each `ours` run
    cli_cpu: list[float]
    profile: dict  # the profiler's profile.json
    picks: dict[str, dict[str, str]]  # the CLI's best agg and disagg rows


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(command: list[str], env: dict[str, str], cpu: list[float] | None = None) -> float:
    """Wall seconds of one run; its CPU seconds go to `cpu` (a load-independent figure on a shared machine)."""
    start, cpu_start = time.perf_counter(), _cpu()
    completed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if cpu is not None:
        cpu.append(_cpu() - cpu_start)
    if completed.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({completed.returncode}):\n{completed.stderr[-2000:]}")
    return elapsed


def measure(case: Case, runs: int, cli_runs: int, env: dict[str, str]) -> Measured:
    """Alternate the commands, so load from other processes hits them alike."""
    ours: list[float] = []
    one_core: list[float] = []
    cli: list[float] = []
    ours_cpu: list[float] = []
    cli_cpu: list[float] = []
    taskset = shutil.which("taskset")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        config = case.config
        if isinstance(config, dict):
            (base / "request.yaml").write_text(yaml.safe_dump(config))
            config = base / "request.yaml"
        for index in range(max(runs, cli_runs)):
            if index < runs:
                command = [sys.executable, "-m", "profiler", "--config", str(config), "--output", str(base / f"p{index}")]
                ours.append(_timed(command, env, ours_cpu))
                if taskset:
                    one_core.append(_timed([taskset, "-c", "0", *command[:-1], str(base / f"p1c{index}")], env))
            if index < cli_runs:
                cli.append(_timed(case.cli(base / f"cli{index}"), env, cli_cpu))
        picks = {}
        for mode in ("agg", "disagg"):
            found = sorted((base / "cli0").rglob(f"{mode}/best_config_topn.csv"))
            with found[0].open() as handle:
                picks[mode] = next(csv.DictReader(handle))
        profile = json.loads((base / "p0/profile.json").read_text())
        return Measured(case, ours, one_core, cli, ours_cpu, cli_cpu, profile, picks)


def run_in_process(runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of repeated profiles of the quick-start request in this process."""
    sys.path.insert(0, str(ROOT))
    import logging

    logging.getLogger("aiconfigurator_core").setLevel(logging.ERROR)
    logging.getLogger("aiconfigurator").setLevel(logging.ERROR)
    from profiler import profile
    from profiler.request_file import request_from_file

    request = request_from_file(SAMPLE, base_config=None, name=None, namespace=None)
    profile(request)  # the first call loads AI Configurator's data; the reconciler pays that once
    times, cpu = [], []
    for _ in range(runs):
        start, cpu_start = time.perf_counter(), time.process_time()
        profile(request)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - cpu_start)
    return times, cpu


PHASES = """
import gc, json, logging, sys, time
T = time.perf_counter
start = T()
gc.disable()  # as `python -m profiler` runs (profiler.__main__.run_once)
logging.disable(logging.WARNING)
from pathlib import Path
from profiler import pipeline
from profiler.estimate.aic import resolve_target
from profiler.request_file import request_from_file
request = request_from_file(Path(sys.argv[1]), base_config=None, name=None, namespace=None)
imported = T()
config = request.config
target, _ = resolve_target(system=config.aic_system, backend=config.aic_backend, version=config.aic_backend_version,
                           model=config.aic_model)
estimator = pipeline._estimator(target)
resolved = T()
engines = pipeline._preload_engines(config, estimator.model_shape(config.engine.is_moe_model))
with estimator.preloading(engines, config.sla.isl, config.sla.osl):
    pipeline._prepare_output()
    foreground = T()
loaded = T()
result = pipeline.profile(request)
profiled = T()
print(json.dumps({
    "import the profiler (pydantic) and read the request": imported - start,
    "resolve the AI Configurator target and open its database (LibYAML)": resolved - imported,
    "AI Configurator's table load in a background thread (from building the two probe models to its end)":
        loaded - resolved,
    "  meanwhile in the foreground: import AIC's backends (pandas), jsonschema": foreground - resolved,
    "profile(): sweep, fine search, interpolation, DGD, report and four plots (tables loaded, modules imported)":
        profiled - loaded,
}))
"""


def run_phases(env: dict[str, str]) -> dict[str, float]:
    """Where one fresh process spends its time."""
    completed = subprocess.run(
        [sys.executable, "-c", PHASES, str(SAMPLE)], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return json.loads(completed.stdout)


def _machine() -> str:
    model = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )
    return f"{os.cpu_count()} cores ({model}), Python {platform.python_version()}, {platform.system()}"


def _pair_tps(case: Case, prefill_tps: float, decode_tps: float) -> float:
    return 1 / (case.isl / (case.osl * prefill_tps) + 1 / decode_tps)


def _seconds(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def _timing_rows(measured: Measured) -> list[str]:
    case = measured.case
    ours, cli = statistics.median(measured.ours), statistics.median(measured.cli)
    ours_cpu, cli_cpu = statistics.median(measured.ours_cpu), statistics.median(measured.cli_cpu)
    rows = [
        f"| {case.title} | `python -m profiler` | {len(measured.ours)} | **{ours:.2f} s** | {_seconds(measured.ours)} "
        f"| **{cli / ours:.1f}x** | {ours_cpu:.2f} s | {cli_cpu / ours_cpu:.1f}x |",
    ]
    if measured.one_core:
        pinned = statistics.median(measured.one_core)
        rows.append(
            f"| {case.title} | `taskset -c 0 python -m profiler` (one core) | {len(measured.one_core)} | {pinned:.2f} s "
            f"| {_seconds(measured.one_core)} | {cli / pinned:.1f}x | | |"
        )
    rows.append(
        f"| {case.title} | `aiconfigurator cli default --total-gpus {case.total_gpus}` | {len(measured.cli)} "
        f"| **{cli:.2f} s** | {_seconds(measured.cli)} | 1 | {cli_cpu:.2f} s | 1 |"
    )
    return rows


def _picks_rows(measured: Measured) -> list[str]:
    case, p, d = measured.case, measured.profile["prefill"], measured.profile["decode"]
    dis, agg = measured.picks["disagg"], measured.picks["agg"]
    p_gpus = int(dis["(p)tp"]) * int(dis["(p)pp"]) * int(dis["(p)dp"])
    d_gpus = int(dis["(d)tp"]) * int(dis["(d)pp"]) * int(dis["(d)dp"])
    cli_p = float(dis["(p)seq/s/worker"]) * case.isl / p_gpus
    cli_d = float(dis["(d)seq/s/worker"]) * case.osl / d_gpus
    return [
        f"| {case.title} | prefill | {p['mapping']} on {p['num_gpus']} GPU(s): TTFT {p['latency_ms']:.2f} ms, "
        f"{p['thpt_per_gpu']:.0f} input tok/s/GPU | {dis['(p)workers']} x `{dis['(p)parallel']}` (bs {dis['(p)bs']}): "
        f"TTFT {float(dis['ttft']):.2f} ms, {cli_p:.0f} input tok/s/GPU | `{agg['parallel']}` bs {agg['bs']}: "
        f"TTFT {float(agg['ttft']):.2f} ms |",
        f"| | decode | {d['mapping']} on {d['num_gpus']} GPU(s): ITL {d['latency_ms']:.2f} ms at concurrency "
        f"{d['concurrency']}, {d['thpt_per_gpu']:.0f} output tok/s/GPU | {dis['(d)workers']} x `{dis['(d)parallel']}` "
        f"(bs {dis['(d)bs']}): ITL {float(dis['tpot']):.2f} ms, {cli_d:.0f} output tok/s/GPU | ITL {float(agg['tpot']):.2f} ms |",
        f"| | system | {_pair_tps(case, p['thpt_per_gpu'], d['thpt_per_gpu']):.0f} output tok/s/GPU (derived, ideal P:D) "
        f"| {float(dis['tokens/s/gpu']):.2f} tok/s/GPU reported ({_pair_tps(case, cli_p, cli_d):.0f} derived, ideal P:D) "
        f"| {float(agg['tokens/s/gpu']):.2f} tok/s/GPU |",
    ]


def render(main: Measured, moe: Measured | None, in_process: list[float], in_process_cpu: list[float],
           phases: dict[str, float], load_start: float) -> str:
    case, p = main.case, main.profile["prefill"]
    ours, cli = statistics.median(main.ours), statistics.median(main.cli)
    ratio = cli / ours
    cases = [main] + ([moe] if moe else [])
    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    timing = [row for measured in cases for row in _timing_rows(measured)]
    picks = [row for measured in cases for row in _picks_rows(measured)]
    phase_rows = [f"| {name} | {seconds:.2f} |" for name, seconds in phases.items()]
    corrected = p["latency_ms"] * AIC_TTFT_FACTOR
    one_core_note = (
        f"; pinned to one core {cli / statistics.median(main.one_core):.1f}x" if main.one_core else ""
    )
    cpu_ratio = statistics.median(main.cli_cpu) / statistics.median(main.ours_cpu)
    lines = [
        SECTION,
        "",
        f"Machine: {_machine()}, shared with other engineers' jobs (load average {load_start:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end); {today};",
        "`benchmarks/offline_profile.py`: the profiler and the CLI alternated run by run (the anchor is measured",
        "interleaved with ours, in the same run, so the load hits both alike), each a fresh process; AI Configurator",
        "0.12.0 (h200_sxm, its `current` databases) for all. Medians; ratio = CLI median / this row's median. CPU =",
        "user + system seconds of the process and its children, which depends far less on other jobs than wall time.",
        "",
        "| request | command | runs | median wall | all runs (s) | ratio | median CPU | CPU ratio |",
        "|---|---|---|---|---|---|---|---|",
        *timing,
        f"| {case.title} | `profiler.profile()` again in the same process (the reconciler's case) | {len(in_process)} "
        f"| {statistics.median(in_process):.2f} s | {_seconds(in_process)} | {cli / statistics.median(in_process):.0f}x "
        f"| {statistics.median(in_process_cpu):.2f} s | |",
        "",
        f"Issue 12's targets on the quick-start request: a fresh process at least 10x faster than the CLI —"
        f" **{'met' if ratio >= 10 else 'not met'}** ({ratio:.1f}x wall, {cpu_ratio:.1f}x CPU; fastest runs"
        f" {min(main.ours):.2f} s vs {min(main.cli):.2f} s{one_core_note}); a warm reconciler at most 0.3 s per request"
        f" — **{'met' if statistics.median(in_process) <= 0.3 else 'not met'}** ({statistics.median(in_process):.2f} s"
        f" wall, {statistics.median(in_process_cpu):.2f} s CPU), with the finer concurrency search of issue 12 included."
        " The CLI's time grows with the model (MoE row); the profiler's hardly does.",
        "",
        "Where one fresh profiler process spends its time (quick-start request; Python's own start and exit come on",
        "top):",
        "",
        "| phase | seconds |",
        "|---|---|",
        *phase_rows,
        "",
        "Issue 12 (this run): the four plots are SVG written by `profiler/svgchart.py` instead of matplotlib PNGs.",
        "matplotlib cost 0.27 s to import and about 0.25 s to draw the four PNGs on an idle core: most of a warm",
        "profile and a third of a fresh process's CPU; the SVG takes about a millisecond, and the forked child",
        "that drew half of the PNGs is gone. The fine concurrency search (about 100 extra decode estimates at about",
        "0.2 ms each) adds a few hundredths of a second. Left: pandas (AI Configurator's backend module imports it",
        "and evaluates `pd.DataFrame` at import; pandas 3 also imports pyarrow), AI Configurator's table load,",
        "pydantic, numpy and jsonschema.",
        "",
        "Issue 3 (earlier runs): what a fresh process cost, and what was done about it (outputs byte-identical; before,",
        "on the same machine and day: 2.19 s vs the CLI's 8.72 s, 4.0x, with the table load, the imports and the",
        "plots one after the other and 0.14 s of YAML parsing):",
        "- **AI Configurator's table load** (its Rust core reads the GEMM and attention Parquet tables on the first",
        "  estimate that needs them, about 0.55 s, without holding the GIL) now runs in a background thread, started as",
        "  soon as the target is known (`Estimator.preloading`), while the foreground imports AI Configurator's",
        "  backends (pandas), jsonschema and matplotlib (about 0.5 s together). This is what the second core buys;",
        "  pinned to one core the two add up again.",
        "- **The garbage collector** re-scanned the long-lived module objects (pandas, matplotlib, AI Configurator) in",
        "  its full passes, during the run and at interpreter exit: about 0.3 s. `python -m profiler` now runs with the",
        "  collector off and freezes what is left before exit (`profiler.__main__.run_once`); library callers are",
        "  unaffected.",
        "- **AI Configurator's version slots** parse every system YAML with PyYAML's pure-Python loader (0.14 s); the",
        "  adapter has AIC's database module use the LibYAML loader (same objects, 0.02 s).",
        "- numpy is imported on first use (in the table-load window) and `profiler.profile` is imported lazily by the",
        "  package. The sweep itself (about 60 estimates and 100 memory checks), the interpolation, the DGD and the",
        "  report take a few hundredths of a second.",
        "",
        "Picks under the same SLA:",
        "",
        "| request | engine | this profiler (Dynamo's rule) | `aiconfigurator cli default`, disagg | CLI, agg |",
        "|---|---|---|---|---|",
        *picks,
        "",
        "Why the picks differ:",
        "- **Objective.** Dynamo's rule (used here) picks each engine on its own: the prefill mapping with the most",
        "  input tokens/s/GPU whose TTFT at the SLA's ISL meets the target, and the decode (mapping, concurrency) with",
        "  the most output tokens/s/GPU whose ITL meets the target; the P:D ratio is left to the planner at runtime.",
        "  The CLI ranks whole replicas (integer prefill and decode worker counts within `--total-gpus`) by end-to-end",
        "  tokens/s/GPU, so its decode batch is sized to what its prefill workers can feed, not to the ITL limit.",
        "- **Search space.** Dynamo's space is TP for dense models and TEP/DEP for DeepSeek-style MoE, powers of two;",
        "  the CLI also tries hybrids (e.g. attention TP2 x DP4 with EP8 on the MoE request), worker counts and",
        "  batch sizes.",
        "- **TTFT model.** The profiler records AI Configurator's static TTFT of one request (`static_ctx`, as",
        f"  Dynamo's AIC path does); the CLI multiplies prefill TTFT by an empirical queueing factor of {AIC_TTFT_FACTOR:g}",
        "  (`_AUTOSCALE_TTFT_CORRECTION_FACTOR`, `aiconfigurator/sdk/picking.py`) before checking the target, plus",
        f"  its own disaggregated-serving adjustments. On the quick-start request {p['mapping']}'s {p['latency_ms']:.2f} ms",
        f"  becomes {corrected:.2f} ms there, {'over' if corrected > case.ttft else 'within'} the {case.ttft:g} ms target,"
        " which is why the CLI's prefill",
        "  workers use more GPUs. Dynamo leaves queueing to the planner, whose prefill correction factor measures it",
        "  at runtime.",
        "- The derived ideal-P:D figure puts both picks on the CLI's scale; it ignores integer worker counts and",
        "  queueing, so it is an upper bound for both.",
        "",
    ]
    return "\n".join(lines)


def write_section(section: str, heading: str = SECTION) -> None:
    """Replace the section under `heading` in RESULTS.md (or append it)."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == heading), None)
    if start is None:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        text = "".join(lines[:start]) + section + ("\n" if end < len(lines) else "") + "".join(lines[end:])
    RESULTS.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="profiler runs per request (default 5)")
    parser.add_argument("--cli-runs", type=int, default=3, help="CLI runs on the quick-start request (default 3)")
    parser.add_argument("--moe-runs", type=int, default=3, help="CLI runs on the MoE request (default 3; 0 skips it)")
    parser.add_argument("--write", action="store_true", help="replace this benchmark's section of RESULTS.md")
    args = parser.parse_args()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    load_start = os.getloadavg()[0]
    main_case = measure(QUICK_START, args.runs, args.cli_runs, env)
    moe = measure(MOE, args.runs, args.moe_runs, env) if args.moe_runs else None
    phases = run_phases(env)
    in_process, in_process_cpu = run_in_process(args.runs)
    section = render(main_case, moe, in_process, in_process_cpu, phases, load_start)
    print(section)
    if args.write:
        write_section(section)


if __name__ == "__main__":
    main()
