"""`gitops-sla demo`: the whole loop on your machine — no cluster, no GPU, no network.

1. creates a throwaway GitOps repository from the template (a bare `origin.git` stands in for GitHub),
2. commits the quick-start's AI Configurator DGDR to `requests/default/sla-aic.yaml`,
3. runs one reconcile pass (validation, offline profiling with AI Configurator, commit of `generated/`),
4. prints the generated DGD's summary, the status table and the commit log.

`--online` commits the quick-start's online DGDR (`useAiConfigurator: false`, Qwen/Qwen3-0.6B) instead and
profiles it by measuring: Dynamo 1.6.1's frontend + mocker workers on 127.0.0.1 (known reference curves) and
AIPerf 0.13.0, from the virtualenv `scripts/setup-dynamo-venv` builds (`--dynamo-python`, else
$GITOPS_SLA_DYNAMO_PYTHON, else the script's default location).
"""

from __future__ import annotations

import argparse
import logging
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import pygit2

from gitops_sla import layout
from gitops_sla.commands.status import collect_rows, format_table
from gitops_sla.git import Mirror
from gitops_sla.reconcile.engine import Reconciler
from gitops_sla.reconcile.offline import offline_backend
from gitops_sla.reconcile.profiling import RoutingBackend
from gitops_sla.template import TEMPLATE_DIR, init_repository
from gitops_sla.yamlsafe import load_yaml
from profiler.errors import ProfilingError

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "quickstart-aic.yaml"
ONLINE_EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "dynamo-samples" / "profile_sla_dgdr.yaml"
KEY = ("default", "sla-aic")
ONLINE_KEY = ("default", "sla-online")


# The online demo's plan, demo-sized: engines of at most 2 GPUs (the quick-start's SLA is met with 2), so the
# sweep deploys one or two engines instead of up to four (1, 2, 4 and 8 GPUs).
DEMO_SIZED = "      hardware:  # demo-sized: engines of at most 2 GPUs\n        maxNumGpusPerEngine: 2\n"
ONLINE_SWEEP = "      sweep:\n        useAiConfigurator: false\n"


def online_demo_request() -> bytes:
    """The quick-start's online DGDR with the demo-sized plan (`DEMO_SIZED`) added."""
    text = ONLINE_EXAMPLE.read_text()
    if ONLINE_SWEEP not in text:
        raise RuntimeError(f"{ONLINE_EXAMPLE}: no sweep block to add the demo's hardware limit to")
    return text.replace(ONLINE_SWEEP, ONLINE_SWEEP + DEMO_SIZED).encode()


def _seed_origin(workdir: Path, example: bytes, key: tuple[str, str] = KEY) -> Path:
    """Template repo (without its sample request) -> bare `origin.git`; then a person commits the DGDR."""
    template = workdir / "template"
    shutil.copytree(TEMPLATE_DIR, template)
    (template / layout.request_path(*KEY)).unlink(missing_ok=True)
    clone = workdir / "checkout"
    init_repository(clone, template=template)
    repo = pygit2.Repository(str(clone))
    request = clone / layout.request_path(*key)
    request.parent.mkdir(parents=True, exist_ok=True)
    request.write_bytes(example)
    repo.index.add(layout.request_path(*key))
    repo.index.write()
    person = pygit2.Signature("A. Person", "person@example.com")
    what = "Qwen3-32B (quick-start AIC DGDR)" if key == KEY else "Qwen3-0.6B (quick-start online DGDR)"
    repo.create_commit("HEAD", person, person, f"Request an SLA-driven deployment of {what}\n",
                       repo.index.write_tree(), [repo.head.target])
    origin = workdir / "origin.git"
    pygit2.clone_repository(str(clone), str(origin), bare=True)
    return origin


def _dgd_summary(data: bytes) -> list[str]:
    dgd = load_yaml(data, "dgd.yaml").data
    meta = dgd.get("metadata", {})
    lines = [f"DynamoGraphDeployment {meta.get('namespace', '-')}/{meta.get('name', '-')}"]
    for name, service in (dgd.get("spec", {}).get("services") or {}).items():
        gpus = ((service.get("resources") or {}).get("limits") or {}).get("gpu", "-")
        lines.append(f"  {name:<22} {service.get('componentType', '-'):<10} replicas={service.get('replicas', '-')}"
                     f"  gpus/worker={gpus}")
    return lines


def run(args: argparse.Namespace) -> int:
    logging.getLogger("aiconfigurator_core").setLevel(logging.ERROR)  # its data-loading notes are not for users
    keep = Path(args.keep).resolve() if args.keep else None
    workdir = keep or Path(tempfile.mkdtemp(prefix="gitops-sla-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    key = ONLINE_KEY if args.online else KEY
    backend = None
    stop_signal = signal.signal(signal.SIGTERM, _interrupt)  # stopped: the profiler's run is stopped too
    try:
        try:
            backend = _online_backend(workdir, args.dynamo_python) if args.online else offline_backend()
        except ProfilingError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        origin = _seed_origin(workdir, online_demo_request() if args.online else EXAMPLE.read_bytes(), key)
        print(f"1. GitOps repository from the template: {origin} (bare; stands in for GitHub)")
        what = "online (measured)" if args.online else "AI Configurator"
        print(f"2. Committed the quick-start's {what} DGDR as {layout.request_path(*key)}")
        if args.online:
            print("   (demo-sized: hardware.maxNumGpusPerEngine: 2 added, so one or two engines are measured instead "
                  "of up to four)")
        mirror = Mirror(str(origin), workdir / "cache")
        reconciler = Reconciler(mirror, backend)
        started = time.perf_counter()
        report = reconciler.run_pass(full=True)
        if args.online:
            report = _profile_online(reconciler, report)
        if report.error:
            print(f"error: {report.error}", file=sys.stderr)
            return 1
        print(f"3. One reconcile pass ({time.perf_counter() - started:.1f} s):")
        for outcome in report.worked:
            print(f"   {outcome.namespace}/{outcome.name}: {outcome.action}, state {outcome.state}"
                  f"{', commit ' + outcome.commit[:12] if outcome.commit else ''}{' — ' + outcome.message if outcome.message else ''}")
        snapshot = mirror.snapshot(mirror.head("main"))
        folder = layout.generated_dir(*key)
        print(f"4. Generated {folder}/: " + ", ".join(name for name, _ in snapshot.list_dir(folder)))
        dgd = snapshot.read(f"{folder}/dgd.yaml")
        if dgd is not None:
            for line in _dgd_summary(dgd):
                print(f"   {line}")
        from profiler.version import PROFILER_VERSION

        print("5. gitops-sla status:")
        for line in format_table(collect_rows(mirror, "main", PROFILER_VERSION)).splitlines():
            print(f"   {line}")
        print("6. Commit log of main:")
        walker = mirror.repo.walk(mirror.head("main"), pygit2.enums.SortMode.TOPOLOGICAL)
        for commit in walker:
            print(f"   {str(commit.id)[:12]} {commit.message.splitlines()[0]}  ({commit.author.name})")
            for key, value in commit.message_trailers.items():
                print(f"   {'':12}   {key}: {value}")
        second = reconciler.run_pass()
        print(f"7. A second pass: {'idle, nothing to do' if second.idle or not second.commits else 'UNEXPECTED commits'}"
              f" ({second.duration_s * 1000:.0f} ms)")
        if keep:
            print(f"Kept in {workdir}: git -C {origin} log --stat")
        return 0 if not any(o.action in ("failed", "error") for o in report.outcomes) else 1
    finally:
        if isinstance(backend, RoutingBackend) and backend.online is not None:
            backend.online.cancel_all()  # a run not finished (Ctrl-C, SIGTERM, timeout): nothing keeps running
        signal.signal(signal.SIGTERM, stop_signal)
        if keep is None:
            shutil.rmtree(workdir, ignore_errors=True)


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"stopped by signal {signum}")


def _online_backend(workdir: Path, python: str | None):
    """The reconciler's own routing: estimates inline, measured requests in a local profiler process on local
    Dynamo mocker engines (`--online-engines local-dynamo`)."""
    from gitops_sla.reconcile.online import LocalProcessBackend
    from profiler.engines.local_dynamo import dynamo_python
    from profiler.version import PROFILER_VERSION

    venv_python = dynamo_python(Path(python) if python else None)  # fails early, saying how to build it
    local = LocalProcessBackend(workdir / "online", "local-dynamo", PROFILER_VERSION,
                                extra_args=("--dynamo-python", str(venv_python)))
    return RoutingBackend(offline_backend(), local)


def _profile_online(reconciler: Reconciler, first, timeout_s: float = 1800.0):
    """Passes every two seconds while the request is profiled; prints the status as it changes."""
    report, seen = first, None
    deadline = time.monotonic() + timeout_s
    while any(o.state == "Profiling" for o in report.worked) and time.monotonic() < deadline:
        message = next((o.message for o in report.worked if o.state == "Profiling"), "")
        if message != seen:
            print(f"   ... {message}")
            seen = message
        time.sleep(2)
        report = reconciler.run_pass()
    return report


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="throwaway GitOps repo, the quick-start DGDR, one reconcile pass",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", metavar="DIR", help="create the demo in DIR and keep it")
    parser.add_argument("--online", action="store_true",
                        help="measure the quick-start's online DGDR on local Dynamo mocker engines with AIPerf")
    parser.add_argument("--dynamo-python", metavar="PY", help="the python of scripts/setup-dynamo-venv's virtualenv")
    parser.set_defaults(handler=run)
