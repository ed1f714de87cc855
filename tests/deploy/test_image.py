"""The image, without a container engine: build the project's wheel from exactly the files the Dockerfile copies,
install it into a clean virtualenv (no system site-packages, dependencies resolved by pip) as the image's
runtime stage does, and run every entry point from there — `--help`, then real work: the reconciler's demo, the
profiler on the quick-start DGDR, the planner's one step against a real Prometheus with the profiler's output.

The one difference from the image: `--no-compile` (bytecode is a start-up optimisation, not behaviour), which
halves the install time. Measured on the 2-core test machine: see docs/install.md ("How the image is tested").
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "planner"))

from planner_frontend import LABELS, Segment, frontend_history  # noqa: E402
from support.prometheus import run_prometheus  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def build_stage_copies(dockerfile: str) -> list[str]:
    """The source paths of the COPY lines of the Dockerfile's build stage."""
    build = dockerfile.split("FROM ")[1]
    sources = []
    for line in build.splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            sources.extend(line.split()[1:-1])
    return sources


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: int = 900) -> subprocess.CompletedProcess:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(args)}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def image_venv(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """The runtime stage: the wheel built from the Dockerfile's sources, installed in a clean virtualenv."""
    root = tmp_path_factory.mktemp("image")
    context = root / "context"
    context.mkdir()
    dockerfile = (ROOT / "Dockerfile").read_text()
    for source in build_stage_copies(dockerfile):
        target = context / source
        if (ROOT / source).is_dir():
            shutil.copytree(ROOT / source, target, symlinks=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / source, target)
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(HOME=str(root / "home"), MPLCONFIGDIR=str(root / "mpl"), PIP_DISABLE_PIP_VERSION_CHECK="1")
    started = time.perf_counter()
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--wheel-dir", str(root / "wheels"), "."],
         context, {**env, "HOME": os.environ.get("HOME", str(root))})  # pip's cache lives in the real HOME
    [wheel] = (root / "wheels").glob("gitops_sla-*.whl")
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], root, env)
    _run([str(venv / "bin" / "pip"), "install", "-q", "--no-compile", str(wheel)], root,
         {**env, "HOME": os.environ.get("HOME", str(root))})
    print(f"wheel + clean virtualenv: {time.perf_counter() - started:.0f} s")
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"  # as the image's ENV PATH
    return venv, env


@pytest.mark.slow
def test_the_dockerfile_is_multi_stage_non_root_and_pinned():
    text = (ROOT / "Dockerfile").read_text()
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.M).group(1)
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", base), base  # an exact version
    assert text.count("\nFROM ${PYTHON_IMAGE} AS ") == 2
    assert re.search(r"^USER 10001:10001$", text, re.M)
    assert re.search(r'^ENTRYPOINT \["gitops-sla"\]$', text, re.M)
    assert "pip install --no-index --find-links /wheels gitops-sla" in text  # the runtime takes only the wheels


@pytest.mark.slow
def test_every_entry_point_runs_from_the_wheel(image_venv, tmp_path):
    venv, env = image_venv
    python = str(venv / "bin" / "python")
    where = _run([python, "-c", "import gitops_sla, profiler, planner; print(gitops_sla.__file__)"], tmp_path, env)
    assert where.stdout.strip().startswith(str(venv))  # the installed copy, not the checkout
    for args in (["gitops-sla", "--help"], [python, "-m", "profiler", "--help"], [python, "-m", "planner", "--help"]):
        assert "usage:" in _run(args, tmp_path, env).stdout

    demo = _run(["gitops-sla", "demo"], tmp_path, env)  # the reconciler: template repo, quick-start, one pass
    assert "default/sla-aic: generated, state Deploying" in demo.stdout
    assert "DynamoGraphDeployment default/sla-aic" in demo.stdout

    sample = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages" / \
        "gitops_sla" / "examples" / "dynamo-samples" / "profile_sla_aic_dgdr.yaml"
    _run([python, "-m", "profiler", "--config", str(sample), "--output", "out"], tmp_path, env)
    written = {path.name for path in (tmp_path / "out").iterdir()}
    assert {"dgd.yaml", "prefill_raw_data.json", "decode_raw_data.json"} <= written

    now = int(time.time())  # 20 requests/s from 30 minutes ago on, as Dynamo's frontend exports them
    with run_prometheus(frontend_history([Segment(now - 1800, 20.0)], now + 1800, LABELS)) as prometheus:
        step = _run([python, "-m", "planner", "--once", "--profile-results-dir=out", "--adjustment-interval=180",
                     f"--metric-pulling-prometheus-endpoint={prometheus.url}",
                     f"--namespace={LABELS['dynamo_namespace']}", f"--model-name={LABELS['model']}"], tmp_path, env)
    decision = json.loads(step.stdout.strip().splitlines()[-1])
    assert decision["observed"]["num_req"] == pytest.approx(20.0 * 180)  # read from the real Prometheus
    assert decision["prefill_replicas"] >= 1 and decision["decode_replicas"] >= 1  # sized from the real profile
