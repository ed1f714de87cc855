"""`local-dynamo`: Dynamo 1.6.1's frontend and one aggregated mocker worker on 127.0.0.1 per mapping, timed by
known curves: a mocker-format NPZ (`timing_npz`: one file for every mapping, or a directory holding
`TP1.npz`, `TEP4.npz`, ... per mapping), AI Configurator's estimate for each mapping (`--engine-option
timing=aic`, on the request's AI Configurator system or `--engine-option system=NAME`) or, by default, the
built-in reference family (`profiler.engines.timing.reference_curves`). For tests, the demo and laptops; no GPU.

The model directory the mocker and AIPerf read is `tokenizer_dir`, else a tiny local one built once with the
Dynamo virtualenv and cached under `~/.cache/gitops-sla/` (nothing is downloaded).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from profiler.config import ProfileConfig
from profiler.engines.dynamo_stack import SCRIPTS, WorkerTiming, dynamo_stack
from profiler.engines.registry import ProviderOptions, register
from profiler.engines.timing import AIC_GRID, GRID, aic_curves, mocker_npz, reference_curves
from profiler.engines.types import EngineMapping, ServingEndpoint
from profiler.errors import ProfilingError

DYNAMO_VERSION = "1.6.1"
DEFAULT_MAX_CONTEXT = 40960
BLOCK_SIZE = 16


def cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gitops-sla"


def dynamo_python(given: Path | None) -> Path:
    """The Dynamo virtualenv's python: given, `GITOPS_SLA_DYNAMO_PYTHON`, or scripts/setup-dynamo-venv's default."""
    candidates = [given] if given else []
    if os.environ.get("GITOPS_SLA_DYNAMO_PYTHON"):
        candidates.append(Path(os.environ["GITOPS_SLA_DYNAMO_PYTHON"]))
    venv = os.environ.get("GITOPS_SLA_DYNAMO_VENV")
    candidates.append(Path(venv) / "bin/python" if venv else cache_root() / f"dynamo-{DYNAMO_VERSION}/bin/python")
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ProfilingError(
        f"no Dynamo {DYNAMO_VERSION} virtualenv found (tried {', '.join(map(str, candidates))}); build it with "
        "scripts/setup-dynamo-venv and pass --dynamo-python DIR/bin/python (or set GITOPS_SLA_DYNAMO_PYTHON)"
    )


def tiny_model_dir(python: Path, max_context: int, root: Path | None = None) -> Path:
    """A tiny local tokenizer/model directory for `max_context` tokens, built once (atomically) and cached."""
    target = (root or cache_root()) / f"tiny-model-{max_context}"
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".tiny-model-", dir=target.parent))
    try:
        done = subprocess.run(
            [str(python), "-P", str(SCRIPTS / "tiny_model.py"), str(staging / "model"), str(max_context)],
            capture_output=True, text=True, env={**os.environ, "TMPDIR": str(staging)},
        )
        if done.returncode != 0:
            raise ProfilingError(f"building the tiny local model failed:\n{done.stderr.strip()[-2000:]}")
        try:
            os.replace(staging / "model", target)
        except OSError:  # built meanwhile by another process
            pass
        return target
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@dataclass(frozen=True)
class LocalDynamoProvider:
    """Starts a frontend and a mocker worker per acquired mapping."""

    python: Path
    model_dir: Path
    served_model: str
    max_context: int
    timing_npz: Path | None = None
    estimator: Any = None  # an AI Configurator Estimator: engines timed by its estimates
    sla: tuple[int, int] = (3000, 150)  # ISL, OSL: the KV capacity of an estimated engine is sized for them
    name: str = "local-dynamo"

    @property
    def fixed_mapping(self) -> None:
        return None

    def _timing(self, mapping: EngineMapping, work: Path) -> WorkerTiming:
        if self.timing_npz is not None:
            npz = self.timing_npz
            if npz.is_dir():
                npz = npz / f"{mapping.label.replace('=', '')}.npz"
                if not npz.is_file():
                    raise ProfilingError(f"{self.timing_npz}: no timing data for {mapping.label} ({npz.name})")
            return WorkerTiming(npz=npz, block_size=BLOCK_SIZE)
        if self.estimator is not None:
            curves = aic_curves(self.estimator, mapping.parallel, self.max_context, *self.sla)
            grid = AIC_GRID
        else:
            curves, grid = reference_curves(mapping.num_gpus, self.max_context), GRID
        path = work / f"{mapping.label.replace('=', '')}.npz"
        path.write_bytes(mocker_npz(curves, grid))
        return WorkerTiming(npz=path, kv_blocks=curves.max_kv_tokens // BLOCK_SIZE, block_size=BLOCK_SIZE)

    @contextmanager
    def acquire(self, mapping: EngineMapping) -> Iterator[ServingEndpoint]:
        work = Path(tempfile.mkdtemp(prefix="gitops-sla-timing-"))
        try:
            timing = self._timing(mapping, work)
            with dynamo_stack(self.python, self.model_dir, self.served_model, timing=timing) as stack:
                yield ServingEndpoint(stack.url, self.served_model, self.model_dir, stack.metrics_url)
        finally:
            shutil.rmtree(work, ignore_errors=True)


def _factory(options: ProviderOptions, config: ProfileConfig) -> LocalDynamoProvider:
    given = options.dynamo_python or (Path(options.extra["python"]) if options.extra.get("python") else None)
    python = dynamo_python(given)  # --dynamo-python, or --engine-option python=PATH (the reconciler passes options)
    max_context = config.engine.max_context_length or DEFAULT_MAX_CONTEXT
    if options.timing_npz is not None and not options.timing_npz.exists():
        raise ProfilingError(f"--timing {options.timing_npz}: no such file or directory")
    timing = options.extra.get("timing", "reference")
    if timing not in ("reference", "aic"):
        raise ProfilingError(f"--engine-option timing={timing}: choose reference or aic (or give --timing FILE)")
    estimator = _estimator(options, config) if timing == "aic" else None
    model_dir = options.tokenizer_dir or tiny_model_dir(python, max_context)
    return LocalDynamoProvider(
        python=python, model_dir=model_dir, served_model=options.served_model or config.deployment.model,
        max_context=max_context, timing_npz=options.timing_npz, estimator=estimator,
        sla=(config.sla.isl, config.sla.osl),
    )


def _estimator(options: ProviderOptions, config: ProfileConfig) -> Any:
    from profiler.estimate.aic import Estimator, resolve_target

    system = options.extra.get("system") or config.aic_system
    if not system:
        raise ProfilingError("--engine-option timing=aic needs an AI Configurator system: set sweep.aicSystem in the "
                             "request or pass --engine-option system=h200_sxm")
    target, _ = resolve_target(system=system, backend=config.aic_backend, version=config.aic_backend_version,
                               model=config.aic_model)
    return Estimator(target)


register("local-dynamo", _factory)
