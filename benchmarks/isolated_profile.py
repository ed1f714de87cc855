"""Per-request cost of profiling in the reconciler's warm child process (`IsolatedProfile`, which enforces the
time budget) against profiling in the reconciler's own process (the anchor), both warm (AI Configurator's data
loaded), on the same quick-start requests with distinct TTFT targets (so no result is reused).

    python benchmarks/isolated_profile.py [--requests 4] [--runs 3]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gitops_sla.reconcile.isolated import IsolatedProfile  # noqa: E402
from gitops_sla.reconcile.offline import offline_profile  # noqa: E402
from gitops_sla.reconcile.profiling import ProfileJob  # noqa: E402
from gitops_sla.validation import validate_request_file  # noqa: E402

EXAMPLE = ROOT / "gitops_sla" / "examples" / "quickstart-aic.yaml"


def job(ttft: float) -> ProfileJob:
    name = f"bench-{int(ttft)}"
    text = EXAMPLE.read_text().replace("name: sla-aic", f"name: {name}").replace("ttft: 500.0", f"ttft: {ttft}")
    path = f"requests/team-a/{name}.yaml"
    request = validate_request_file(text.encode(), file=path, repo_path=path).request
    return ProfileJob("team-a", name, f"sha256:{name}", request, request.to_profile_config(None, namespace="team-a"))


def per_request(profile, jobs: list[ProfileJob]) -> float:
    started = time.perf_counter()
    for item in jobs:
        profile(item)
    return (time.perf_counter() - started) / len(jobs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    isolated = IsolatedProfile(offline_profile)
    try:
        started = time.perf_counter()
        isolated(job(499.0))
        cold_child = time.perf_counter() - started
        offline_profile(job(498.0))  # warm the reconciler's own process too
        inline, child = [], []
        for run in range(args.runs):
            jobs = [job(400.0 + run * args.requests + i) for i in range(args.requests)]
            inline.append(per_request(offline_profile, jobs))
            jobs = [job(300.0 + run * args.requests + i) for i in range(args.requests)]
            child.append(per_request(isolated, jobs))
    finally:
        isolated.close()
    anchor = statistics.median(inline)
    print(f"{platform.machine()}, Python {platform.python_version()}, {date.today()}; median of {args.runs} runs of "
          f"{args.requests} requests")
    print(f"in-process, warm (anchor): {anchor:.3f} s per request")
    print(f"IsolatedProfile, warm child: {statistics.median(child):.3f} s per request "
          f"(ratio {statistics.median(child) / anchor:.2f})")
    print(f"a fresh child's first request (start, import, data load, profile): {cold_child:.1f} s")


if __name__ == "__main__":
    main()
