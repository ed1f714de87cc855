"""Validation speed and the safe loader's cost, each next to an anchor measured in the same run.

    python benchmarks/validation.py [--write]

Measures, on the quick-start's AI Configurator request: `load_yaml` (safe loader with positions) against
PyYAML's `yaml.load(..., CSafeLoader)` (no checks, no positions) and the pure-Python `SafeLoader`;
`validate_request_file` (loader + model + semantic checks); an alias bomb's rejection (time and peak memory)
against what a plain loader plus one traversal of the expanded data costs for a bomb 10^5 times smaller;
`gitops-sla validate` over a repository of 1,000 requests; a request with 45,000 unknown keys; and the first
AI Configurator check (its lists loaded on first use) in fresh processes. With --write, replaces the `## Validation` section
of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import date
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gitops_sla import layout  # noqa: E402
from gitops_sla.commands.validate import validate_paths  # noqa: E402
from gitops_sla.template import init_repository  # noqa: E402
from gitops_sla.validation import validate_request_file  # noqa: E402
from gitops_sla.yamlsafe import YamlError, load_yaml  # noqa: E402

REQUEST = (ROOT / "gitops_sla" / "examples" / "quickstart-aic.yaml").read_bytes()


def median_seconds(function, runs: int) -> float:
    function()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def bomb(levels: int, width: int = 10) -> str:
    lines = ['a0: &a0 "lol"'] + [
        f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]" for i in range(1, levels + 1)
    ]
    return "\n".join(lines) + "\n"


def refuse(source: str) -> None:
    try:
        load_yaml(source, "bomb.yaml")
    except YamlError:
        return
    raise AssertionError("alias bomb accepted")


def peak_bytes(function) -> int:
    tracemalloc.start()
    function()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def _first_check_seconds() -> float:
    """Seconds a fresh process spends on its first AI Configurator check (validation without it subtracted)."""
    script = (
        "import sys, time; sys.path.insert(0, sys.argv[1])\n"
        "from gitops_sla.validation import validate_request_file\n"
        "data = open(sys.argv[2], 'rb').read()\n"
        "off = data.replace(b'use_ai_configurator: true', b'use_ai_configurator: false')\n"
        "validate_request_file(off, file='r.yaml')\n"
        "start = time.perf_counter(); validate_request_file(off, file='r.yaml'); plain = time.perf_counter() - start\n"
        "start = time.perf_counter(); validate_request_file(data, file='r.yaml')\n"
        "print(time.perf_counter() - start - plain)\n"
    )
    request = ROOT / "gitops_sla" / "examples" / "quickstart-aic.yaml"
    done = subprocess.run([sys.executable, "-c", script, str(ROOT), str(request)], capture_output=True, text=True,
                          check=True)
    return float(done.stdout.strip())


def main() -> None:
    rows = []
    c_load = median_seconds(lambda: yaml.load(REQUEST, Loader=yaml.CSafeLoader), 2000)
    rows.append(("PyYAML CSafeLoader, no checks (anchor)", c_load, 1.0))
    py_load = median_seconds(lambda: yaml.load(REQUEST, Loader=yaml.SafeLoader), 500)
    rows.append(("PyYAML pure-Python SafeLoader, no checks", py_load, py_load / c_load))
    safe = median_seconds(lambda: load_yaml(REQUEST, "r.yaml"), 2000)
    rows.append(("`load_yaml` (all refusals + positions)", safe, safe / c_load))
    full = median_seconds(lambda: validate_request_file(REQUEST, file="requests/default/sla-aic.yaml"), 2000)
    rows.append(("`validate_request_file` (load + model + semantics)", full, full / c_load))

    # A 1 MiB-class request with 45,000 unknown keys (issue 8: 36 s and a 9 MB status.yaml before the cap).
    flood = REQUEST.decode().replace("      sla:\n", "".join(f"      k{i:05d}: 1\n" for i in range(45_000))
                                     + "      sla:\n", 1).encode()
    flood_anchor = median_seconds(lambda: yaml.load(flood, Loader=yaml.CSafeLoader), 3)
    flood_time = median_seconds(lambda: validate_request_file(flood, file="requests/default/sla-aic.yaml"), 3)
    flood_issues = validate_request_file(flood, file="requests/default/sla-aic.yaml").issues
    # AI Configurator's lists are loaded on a request's first AI Configurator check in a process.
    first_check = statistics.median(_first_check_seconds() for _ in range(3))

    big_bomb = bomb(9)  # 10^9 leaves if expanded
    small_bomb = bomb(4)  # 10^4 leaves
    refuse_time = median_seconds(lambda: refuse(big_bomb), 2000)
    refuse_peak = peak_bytes(lambda: refuse(big_bomb))
    expand = median_seconds(lambda: json.dumps(yaml.load(small_bomb, Loader=yaml.CSafeLoader)), 20)
    expand_peak = peak_bytes(lambda: json.dumps(yaml.load(small_bomb, Loader=yaml.CSafeLoader)))

    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        init_repository(repo)
        text = REQUEST.decode()
        for index in range(1000):
            name = f"req-{index:04d}"
            path = repo / layout.request_path(f"team-{index % 10}", name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text.replace("name: sla-aic", f"name: {name}"))
        reports = validate_paths([repo / "requests"])
        assert len(reports) == 1000 and all(r.ok for r in reports), "repository not valid"
        tree = median_seconds(lambda: validate_paths([repo / "requests"]), 5)

    machine = f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, PyYAML {yaml.__version__} (libyaml {yaml.__with_libyaml__})"
    lines = [
        "## Validation",
        "",
        f"`python benchmarks/validation.py` on {machine}, {date.today().isoformat()}, 2 shared cores. Medians of "
        "2000 runs (500 for the pure-Python loader, 5 for the repository); ratios to PyYAML's C loader on the same "
        "input in the same run. Input: `gitops_sla/examples/quickstart-aic.yaml` (29 lines).",
        "",
        "| what | median | ratio to CSafeLoader |",
        "|---|---|---|",
        *[f"| {name} | {seconds * 1e6:.0f} µs | {ratio:.1f} |" for name, seconds, ratio in rows],
        "",
        f"Alias bomb (9 levels x 10, 10^9 leaves if expanded): refused at the first anchor in "
        f"{refuse_time * 1e6:.0f} µs with {refuse_peak / 1024:.0f} KiB peak Python memory. For comparison, a plain "
        f"`yaml.load` + one traversal (`json.dumps`) of a bomb 10^5 times smaller (4 levels, 10^4 leaves) takes "
        f"{expand * 1e3:.1f} ms and {expand_peak / 1024:.0f} KiB; each further level multiplies both by 10.",
        "",
        f"`gitops-sla validate` of a repository with 1,000 requests, in process: "
        f"{tree:.2f} s ({tree / 1000 * 1e3:.2f} ms per file, including directory walk and file reads).",
        "",
        f"A {len(flood) // 1024} KiB request with 45,000 unknown keys: `validate_request_file` {flood_time:.2f} s "
        f"(median of 3; {flood_time / flood_anchor:.1f}x PyYAML's C loader on the same file, {flood_anchor:.2f} s), "
        f"{len(flood_issues)} issues ({sum(len(str(i)) for i in flood_issues) // 1024} KiB): at most 100 are "
        "reported, the rest counted. Before the cap: 36 s and a 9 MB status.yaml (issue 8).",
        "",
        f"The first AI Configurator check of a process (system, model and context from AI Configurator's lists, "
        f"loaded on first use): {first_check:.2f} s (median of 3 fresh processes); later requests reuse the "
        "loaded lists (included in the medians above). A request that does not use AI Configurator never loads "
        "them.",
        "",
    ]
    section = "\n".join(lines)
    print(section)
    if "--write" in sys.argv:
        results = ROOT / "benchmarks" / "RESULTS.md"
        text = results.read_text() if results.exists() else "# Benchmark results\n\n"
        start = text.find("## Validation\n")
        if start == -1:
            text = text.rstrip("\n") + "\n\n" + section
        else:
            end = text.find("\n## ", start + 1)
            text = text[:start] + section + (text[end + 1:] if end != -1 else "")
        results.write_text(text)


if __name__ == "__main__":
    main()
