"""`python -m profiler --config FILE --output DIR`: profile a DGDR or a profile config, write the result.

The method follows the request (`sweep.useAiConfigurator`): estimated with AI Configurator, or measured with
AIPerf on engines from `--engines endpoint|local-dynamo|...`. `python -m profiler --endpoint URL --model NAME
--tokenizer DIR --output DIR` measures one running endpoint (SLA and ISL/OSL from flags or `--config`)."""

from __future__ import annotations

import argparse
import gc
import logging
import signal
import sys
from pathlib import Path

from pydantic import ValidationError

from profiler.config import ProfileConfig
from profiler.errors import ProfilingError
from profiler.request_file import load_yaml, request_from_file


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m profiler", description=__doc__)
    parser.add_argument("--config", type=Path, help="a DGDR or a profile config (YAML)")
    parser.add_argument("--output", required=True, type=Path, help="directory to write the result into")
    parser.add_argument("--base-config", type=Path, help="base DGD file (default: Dynamo's disagg.yaml for the backend)")
    parser.add_argument("--name", help="request name (default: the DGDR's metadata.name or the file name)")
    parser.add_argument("--namespace", help="request namespace (default: the DGDR's, or deployment.namespace, or default)")
    online = parser.add_argument_group("measured (online) profiling")
    online.add_argument("--engines", help="engine provider for a request with useAiConfigurator: false "
                        "(endpoint, local-dynamo, kubernetes)")
    online.add_argument("--endpoint", help="a running OpenAI-compatible endpoint to measure (implies --engines endpoint)")
    online.add_argument("--model", help="the model name the engines serve (default: the request's model)")
    online.add_argument("--tokenizer", type=Path, help="a local tokenizer directory (never downloaded)")
    online.add_argument("--dynamo-python", type=Path, help="the Dynamo 1.6.1 virtualenv's python (local-dynamo; "
                        "default: $GITOPS_SLA_DYNAMO_PYTHON or scripts/setup-dynamo-venv's venv)")
    online.add_argument("--timing", type=Path, help="local-dynamo: a mocker-format profile NPZ (or a directory "
                        "of TP1.npz, ...) timing the engines (default: the built-in reference curves)")
    online.add_argument("--engine-option", action="append", default=[], metavar="KEY=VALUE",
                        help="provider-specific setting, e.g. mapping=TP=2 for --endpoint")
    online.add_argument("--progress-file", type=Path, help="keep a JSON progress document here")
    for flag, kind in (("isl", int), ("osl", int), ("ttft", float), ("itl", float)):
        online.add_argument(f"--{flag}", type=kind, help=f"SLA {flag.upper()} (overrides the request's)")
    return parser


def _request(args: argparse.Namespace, base: dict | None):
    from profiler.result import ProfileRequest

    if args.config is None and not args.endpoint:
        raise ProfilingError("give --config FILE (a DGDR or a profile config), or --endpoint URL --model NAME")
    if args.config is not None:
        request = request_from_file(args.config, base_config=base, name=args.name, namespace=args.namespace)
    else:
        if not args.model:
            raise ProfilingError("--endpoint needs --model NAME (the model the endpoint serves)")
        config = ProfileConfig.model_validate({"deployment": {"model": args.model}, "sweep": {"useAiConfigurator": False}})
        request = ProfileRequest(config=config, base_config=base, request_name=args.name or "endpoint",
                                 request_namespace=args.namespace or "default")
    sla = {flag: getattr(args, flag) for flag in ("isl", "osl", "ttft", "itl") if getattr(args, flag) is not None}
    if args.endpoint:
        sla_config = request.config.sweep.model_copy(update={"use_ai_configurator": False})
        request = request.model_copy(update={"config": request.config.model_copy(update={"sweep": sla_config})})
    if sla:
        try:
            config = ProfileConfig.model_validate({**request.config.model_dump(), "sla": {**request.config.sla.model_dump(), **sla}})
        except ValidationError as error:
            raise ProfilingError(f"SLA flags: {error.errors()[0]['loc'][-1]}: {error.errors()[0]['msg']}") from error
        request = request.model_copy(update={"config": config})
    return request


def _measured(args: argparse.Namespace, request, name: str):
    from profiler.engines import ProviderOptions, create
    from profiler.measure.aiperf import find_aiperf
    from profiler.measure.sweep import MeasureSettings
    from profiler.pipeline import profile
    from profiler.progress import Progress

    extra = {}
    for option in args.engine_option:
        key, sep, value = option.partition("=")
        if not sep:
            raise ProfilingError(f"--engine-option {option!r}: expected KEY=VALUE")
        extra[key] = value
    options = ProviderOptions(
        endpoint_url=args.endpoint, served_model=args.model, tokenizer_dir=args.tokenizer,
        dynamo_python=args.dynamo_python, timing_npz=args.timing, extra=extra,
    )
    provider = create(name, options, request.config)
    python = getattr(provider, "python", None) or args.dynamo_python
    progress = Progress.for_cli(args.progress_file)
    try:
        return profile(request, engines=provider,
                       measure=MeasureSettings(aiperf=find_aiperf(python), progress=progress))
    except BaseException as error:
        progress.update(phase="failed", message=str(error) or type(error).__name__)
        raise


def write_files(output: Path, files: dict[str, bytes]) -> None:
    for relative, content in files.items():
        target = output / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("aiconfigurator", "aiconfigurator_core"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    try:
        base = load_yaml(args.base_config) if args.base_config else None
        if base is not None and not isinstance(base, dict):
            raise ProfilingError(f"{args.base_config}: the base config must be a DynamoGraphDeployment mapping")
        request = _request(args, base)
        from profiler.pipeline import profile

        engines_name = "endpoint" if args.endpoint else args.engines
        if engines_name and request.config.sweep.use_ai_configurator:
            raise ProfilingError(f"--engines {engines_name}: the request sets useAiConfigurator: true (estimated); "
                                 "set it to false to measure")
        if engines_name:
            result = _measured(args, request, engines_name)
        else:
            result = profile(request)
    except ProfilingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    write_files(args.output, result.files)
    print(f"{'SLA met' if result.sla_met else 'SLA not attainable'}: {result.dgd_namespace}/{result.dgd_name}")
    print(f"prefill: {result.prefill.summary()}")
    print(f"decode: {result.decode.summary()}")
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"wrote {len(result.files)} files to {args.output}")
    return 0


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"stopped by signal {signum}")


def run_once() -> int:
    """`main()` as a one-shot process runs it. Nearly every object it creates (the modules of AI Configurator,
    pandas, the loaded performance data) lives until the process exits, so the cyclic garbage
    collector's full passes, during the run and again at exit, would only re-scan them: about a quarter of the
    wall time on a 2-core machine. The collector is off while `main()` runs and what is left is frozen for exit."""
    gc.disable()
    signal.signal(signal.SIGTERM, _interrupt)  # a stopped run still stops the engines it started
    try:
        return main()
    finally:
        gc.freeze()


if __name__ == "__main__":
    sys.exit(run_once())
