"""What a profiling Job's pod runs: `python -m gitops_sla.cluster.profile_job OPTIONS -- python -m profiler ...`.

It reads the inputs from the input ConfigMap, runs the profiler command after `--` (adding `--config`,
`--output`, `--progress-file` and `--base-config`), mirrors the progress file into the Job's annotation every
`--progress-period` seconds (when it changed), and on success stores the output in the result ConfigMap. On
failure it writes the profiler's last output into the Job's failure annotation (the reconciler's `Failed`
message) and exits with the profiler's status, so the Job controller retries or fails the Job.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from gitops_sla.cluster.client import api_client
from gitops_sla.cluster.jobs import ANNOTATION_FAILURE, ANNOTATION_PROGRESS, encode_result
from gitops_sla.reconcile.profile_files import BASE_FILE, profiler_args
from profiler.engines.kube_api import ClusterError, call

MAX_RESULT_BYTES = 900 * 1024  # a ConfigMap holds at most 1 MiB, base64 included


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gitops_sla.cluster.profile_job", description=__doc__)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--job", required=True, help="this Job's name (its annotations carry the progress)")
    parser.add_argument("--inputs-configmap", required=True)
    parser.add_argument("--result-configmap", required=True)
    parser.add_argument("--output", required=True, type=Path, help="where the profiler writes (a PVC path or /tmp)")
    parser.add_argument("--with-base-config", action="store_true", help="the inputs hold base.yaml")
    parser.add_argument("--progress-period", type=float, default=30.0)
    parser.add_argument("--kubeconfig", help="default: the pod's service account")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- python -m profiler --engines kubernetes ...")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        print("error: give the profiler command after --", file=sys.stderr)
        return 2
    api = api_client(args.kubeconfig)
    core, batch = client.CoreV1Api(api), client.BatchV1Api(api)
    with tempfile.TemporaryDirectory(prefix="profile-job-") as work:
        inputs = Path(work, "inputs")
        inputs.mkdir()
        config_map = call(f"read ConfigMap {args.namespace}/{args.inputs_configmap}",
                          lambda: core.read_namespaced_config_map(args.inputs_configmap, args.namespace))
        for key, value in (config_map.data or {}).items():
            (inputs / key).write_text(value)
        progress_file = Path(work, "progress.json")
        full = [*command, *profiler_args(str(inputs), str(args.output), _engines(command), str(progress_file),
                                         args.with_base_config and (inputs / BASE_FILE).exists())]
        log = Path(work, "profiler.log")
        rc = _run(full, log, progress_file, lambda text: _annotate(batch, args, ANNOTATION_PROGRESS, text),
                  args.progress_period)
        if rc != 0:
            tail = log.read_text(errors="replace").strip()[-2000:] or f"the profiler exited with status {rc}"
            _annotate(batch, args, ANNOTATION_FAILURE, tail)
            print(tail, file=sys.stderr)
            return rc
        files = {str(p.relative_to(args.output)): p.read_bytes() for p in sorted(args.output.rglob("*"))
                 if p.is_file()}
        if sum(len(data) for data in files.values()) * 4 // 3 > MAX_RESULT_BYTES:
            message = (f"the profiler's output ({sum(map(len, files.values()))} bytes) does not fit a ConfigMap "
                       "(1 MiB); lower the plot and interpolation sizes")
            _annotate(batch, args, ANNOTATION_FAILURE, message)
            print(message, file=sys.stderr)
            return 1
        _store(core, args, files)
    return 0


def _engines(command: list[str]) -> str:
    """The `--engines` value in the command (it is passed again by `profiler_args`, so drop it there)."""
    if "--engines" in command:
        index = command.index("--engines")
        value = command[index + 1]
        del command[index:index + 2]
        return value
    return "kubernetes"


def _run(command: list[str], log: Path, progress_file: Path, publish, period_s: float) -> int:
    """Run `command` with output in `log`; publish the progress file's text whenever it changed, at most every
    `period_s` seconds, and once more at the end."""
    published = None
    with log.open("wb") as stream:
        child = subprocess.Popen(command, stdout=stream, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            while True:
                try:
                    rc = child.wait(timeout=period_s)
                except subprocess.TimeoutExpired:
                    rc = None
                text = progress_file.read_text() if progress_file.exists() else None
                if text and text != published:
                    publish(text.strip())
                    published = text
                if rc is not None:
                    return rc
        finally:
            if child.poll() is None:  # SIGTERM from the kubelet, or an error here: the profiler cleans up
                child.terminate()
                child.wait()


def _annotate(batch: client.BatchV1Api, args: argparse.Namespace, key: str, text: str) -> None:
    body = {"metadata": {"annotations": {key: text}}}
    try:
        call(f"annotate Job {args.namespace}/{args.job}",
             lambda: batch.patch_namespaced_job(args.job, args.namespace, body))
    except (ClusterError, ApiException) as exc:  # progress is best effort; the run goes on
        print(f"warning: {exc}", file=sys.stderr)


def _store(core: client.CoreV1Api, args: argparse.Namespace, files: dict[str, bytes]) -> None:
    body = {"metadata": {"name": args.result_configmap, "namespace": args.namespace},
            "binaryData": encode_result(files)}
    try:
        call(f"create ConfigMap {args.namespace}/{args.result_configmap}",
             lambda: core.create_namespaced_config_map(args.namespace, body), retry_conflict=False)
    except ApiException as exc:
        if exc.status != 409:
            raise
        call(f"update ConfigMap {args.namespace}/{args.result_configmap}",  # a retried pod's earlier result
             lambda: core.patch_namespaced_config_map(args.result_configmap, args.namespace, body))


if __name__ == "__main__":
    sys.exit(main())
