"""`gitops-sla validate`: files and folders, exit status, text and JSON output, repository-aware checks."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gitops_sla.cli import main
from gitops_sla.template import init_repository

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "gitops_sla" / "examples"
AIC = (EXAMPLES / "quickstart-aic.yaml").read_text()


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    init_repository(root)
    (root / "requests" / "default").mkdir()
    return root


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["validate", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_valid_files_exit_zero(capsys) -> None:
    code, out, err = _run(capsys, str(EXAMPLES / "quickstart-aic.yaml"), str(EXAMPLES / "dynamo-samples"))
    assert code == 0 and out == ""
    assert "3 file(s) checked, 0 invalid, 0 error(s), 0 warning(s)" in err


def test_invalid_file_exits_one_with_located_errors(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(AIC.replace("ttft: 500.0", "ttfft: 500.0"))
    code, out, _ = _run(capsys, str(bad))
    assert code == 1
    assert out.splitlines() == [
        f"{bad}:25:9: spec.profilingConfig.config.sla.ttfft: unknown key 'ttfft'; did you mean 'ttft'?"
    ]


def test_json_output(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(AIC.replace("backend: trtllm", "backend: tensorrt"))
    code, out, _ = _run(capsys, "--output", "json", str(bad), str(EXAMPLES / "quickstart-aic.yaml"))
    document = json.loads(out)
    assert code == 1 and document["ok"] is False
    first, second = document["files"]
    assert (first["file"], first["kind"], first["ok"]) == (str(bad), "request", False)
    assert first["issues"] == [{
        "file": str(bad), "line": 10, "column": 12, "path": "spec.backend",
        "message": "must be one of 'vllm', 'sglang', 'trtllm', not 'tensorrt'", "severity": "error",
    }]
    assert second["ok"] is True and second["issues"] == []


def test_missing_path_is_an_error(tmp_path: Path, capsys) -> None:
    code, out, _ = _run(capsys, str(tmp_path / "nope.yaml"))
    assert code == 1 and "nope.yaml:1:1: no such file or folder" in out


def test_fresh_repository_is_valid(repo: Path, capsys) -> None:
    code, out, err = _run(capsys, str(repo))
    assert code == 0, out
    assert "2 file(s) checked" in err


def test_repository_folder_checks_layout_bases_and_skips_generated(repo: Path, capsys) -> None:
    (repo / "generated" / "default" / "junk").mkdir(parents=True)
    (repo / "generated" / "default" / "junk" / "x.yaml").write_bytes(b"\x00\x01 not yaml")
    (repo / "requests" / "team-a").mkdir()
    moved = AIC.replace("name: sla-aic", "name: other")
    (repo / "requests" / "team-a" / "chat.yaml").write_text(moved)
    (repo / "requests" / "stray.yml").write_text(AIC)
    with_base = AIC.replace("    config:\n", "    configMapRef:\n      name: missing-base\n    config:\n", 1)
    (repo / "requests" / "default" / "based.yaml").write_text(with_base.replace("name: sla-aic", "name: based"))
    code, out, _ = _run(capsys, str(repo))
    assert code == 1
    lines = out.splitlines()
    assert any(line.startswith(f"{repo}/requests/team-a/chat.yaml:7:9: metadata.name: name 'other' does not "
                               "match the file name 'chat.yaml'") for line in lines), out
    assert any(line.startswith(f"{repo}/requests/stray.yml:4:1: request files must be at "
                               "requests/<namespace>/<name>.yaml") for line in lines), out
    assert any(f"{repo}/requests/default/based.yaml:16:13: spec.profilingConfig.configMapRef.name: base config "
               "bases/default/missing-base/disagg.yaml does not exist" in line for line in lines), out
    assert "generated" not in out


def test_base_in_the_repository_satisfies_config_map_ref(repo: Path, capsys) -> None:
    with_base = AIC.replace("    config:\n", "    configMapRef:\n      name: trtllm-disagg\n    config:\n", 1)
    (repo / "requests" / "default" / "sla-aic.yaml").write_text(with_base)
    code, out, _ = _run(capsys, str(repo))
    assert code == 0, out


def test_tenancy_from_the_repository_config(repo: Path, capsys) -> None:
    (repo / "requests" / "team-a").mkdir()
    request = AIC.replace("name: sla-aic", "name: chat\n  namespace: team-a").replace(
        "  deploymentOverrides:\n", "  deploymentOverrides:\n    namespace: production\n")
    (repo / "requests" / "team-a" / "chat.yaml").write_text(request)
    code, out, _ = _run(capsys, str(repo / "requests" / "team-a" / "chat.yaml"))
    assert code == 1
    assert "spec.deploymentOverrides.namespace: namespace 'production' is not allowed for " \
           "requests/team-a/chat.yaml by gitops-sla.yaml tenancy rules; allowed: team-a" in out


def test_invalid_repo_config_is_reported(repo: Path, capsys) -> None:
    config = repo / "gitops-sla.yaml"
    config.write_text(config.read_text().replace("defaultMode: pull-request", "defaultMode: yolo"))
    code, out, _ = _run(capsys, str(repo))
    assert code == 1
    assert f"{config}:11:14: defaultMode: must be one of 'pull-request', 'commit', not 'yolo'" in out


def test_pre_commit_style_relative_paths(repo: Path) -> None:
    """pre-commit runs the hook in the repository root with paths relative to it."""
    (repo / "requests" / "default" / "sla-aic.yaml").write_text(AIC.replace("itl: 30.0", "itl: 0"))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "gitops_sla", "validate", "requests/default/sla-aic.yaml", "gitops-sla.yaml"],
        cwd=repo, capture_output=True, text=True, env=env, check=False,
    )
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [
        "requests/default/sla-aic.yaml:26:14: spec.profilingConfig.config.sla.itl: must be greater than 0, not 0"
    ]


def test_pre_commit_hook_definition() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())  # a list: not a request file
    (hook,) = hooks
    assert hook["id"] == "gitops-sla-validate" and hook["entry"] == "gitops-sla validate"
    assert re.search(hook["files"], "requests/team-a/chat.yaml")
    assert re.search(hook["files"], "gitops-sla.yaml")
    assert not re.search(hook["files"], "generated/team-a/chat/dgd.yaml")


def test_symlinked_requests_are_reported_never_read(repo: Path, tmp_path: Path, capsys) -> None:
    host_file = tmp_path / "host-secret.yaml"
    host_file.write_text("apiVersion: nvidia.com/v1alpha1\nkind: DynamoGraphDeploymentRequest\n"
                         "metadata: {name: x}\nspec: {host-key-canary: 1}\n")
    (repo / "requests" / "team-a").mkdir()
    (repo / "requests" / "team-a" / "chat.yaml").symlink_to(host_file)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.yaml").symlink_to(host_file)
    (outside / "y.yaml").write_text(host_file.read_text())  # a plain file in a linked folder
    (repo / "requests" / "team-b").symlink_to(outside)
    for args in ([str(repo)], [str(repo / "requests" / "team-a" / "chat.yaml")],
                 [str(repo / "requests" / "team-b" / "x.yaml")], [str(repo / "requests" / "team-b" / "y.yaml")],
                 ["--output", "json", str(repo)]):
        code, out, err = _run(capsys, *args)
        assert code == 1 and "canary" not in out + err
        assert "is a symbolic link" in out and "commit the file itself" in out


DUMP = ROOT / "tests" / "data" / "dynamo" / "kubectl-get-dgdr-0.8.yaml"


def test_a_kubectl_dump_dynamo_accepted_is_accepted_with_warnings_and_strict_refuses_it(capsys) -> None:
    code, out, err = _run(capsys, str(DUMP))
    assert code == 0 and "0 error(s), 8 warning(s)" in err
    assert f"{DUMP}:43:3: metadata.resourceVersion: warning: ignored: set by the Kubernetes API server" in out
    assert f"{DUMP}:67:1: status: warning: ignored" in out
    assert (f"{DUMP}:54:9: spec.profilingConfig.config.planner.metricPullingPrometheusEndpoint: warning: read as "
            "planner_metric_pulling_prometheus_endpoint") in out
    code, out, err = _run(capsys, "--strict", str(DUMP))
    assert code == 1 and "8 error(s), 0 warning(s)" in err and ": warning:" not in out


def test_the_dumps_planner_key_is_read_under_its_meaning() -> None:
    from gitops_sla.validation import validate_request_file

    result = validate_request_file(DUMP)
    planner = result.document.spec.profiling_config.config.planner
    assert planner["planner_metric_pulling_prometheus_endpoint"].startswith("http://prometheus-kube-prometheus")


@pytest.mark.parametrize("key, message, severity", [
    ("planner_metric_puling_prometheus_endpoint", "did you mean 'planner_metric_pulling_prometheus_endpoint'", "error"),
    ("gitRepo", "planner_git_repo is set by the reconciler", "error"),
    ("someDashboardHint", "ignored: not a planner_<flag> key", "warning"),
])
def test_planner_keys_dynamo_reads_stay_strict(key: str, message: str, severity: str) -> None:
    from gitops_sla.validation import validate_request_file

    text = DUMP.read_text().replace("plannerMinEndpoint: 1", f"{key}: x")
    (issue,) = [i for i in validate_request_file(text.encode(), file="d.yaml").issues if key in i.path]
    assert (issue.line, issue.severity) == (55, severity) and message in issue.message
