"""`python -m profiler --config FILE --output DIR`: profile a DGDR or a profile config, write the result."""

from __future__ import annotations

import argparse
import gc
import logging
import sys
from pathlib import Path

from profiler.errors import ProfilingError
from profiler.request_file import load_yaml, request_from_file


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m profiler", description=__doc__)
    parser.add_argument("--config", required=True, type=Path, help="a DGDR or a profile config (YAML)")
    parser.add_argument("--output", required=True, type=Path, help="directory to write the result into")
    parser.add_argument("--base-config", type=Path, help="base DGD file (default: Dynamo's disagg.yaml for the backend)")
    parser.add_argument("--name", help="request name (default: the DGDR's metadata.name or the file name)")
    parser.add_argument("--namespace", help="request namespace (default: the DGDR's, or deployment.namespace, or default)")
    return parser


def write_files(output: Path, files: dict[str, bytes]) -> None:
    for relative, content in files.items():
        target = output / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


def main(argv: list[str] | None = None, *, fork_plots: bool = False) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("aiconfigurator", "aiconfigurator_core"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    try:
        base = load_yaml(args.base_config) if args.base_config else None
        if base is not None and not isinstance(base, dict):
            raise ProfilingError(f"{args.base_config}: the base config must be a DynamoGraphDeployment mapping")
        request = request_from_file(args.config, base_config=base, name=args.name, namespace=args.namespace)
        from profiler.pipeline import profile

        result = profile(request, fork_plots=fork_plots)
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


def run_once() -> int:
    """`main()` as a one-shot process runs it. Nearly every object it creates (the modules of AI Configurator,
    pandas and matplotlib, the loaded performance data) lives until the process exits, so the cyclic garbage
    collector's full passes, during the run and again at exit, would only re-scan them: about a quarter of the
    wall time on a 2-core machine. The collector is off while `main()` runs and what is left is frozen for exit.
    The process runs no threads of its own when it draws the plots, so half of them are drawn in a forked child."""
    gc.disable()
    try:
        return main(fork_plots=True)
    finally:
        gc.freeze()


if __name__ == "__main__":
    sys.exit(run_once())
