"""`gitops-sla init` and the repository template."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pygit2
import pytest
import yaml

from gitops_sla.cli import main
from gitops_sla.commands.validate import validate_paths
from gitops_sla.schemas import PROJECT_SCHEMA_DIR
from gitops_sla.template import INITIAL_COMMIT_MESSAGE, TEMPLATE_DIR, InitError, init_repository
from gitops_sla.yamlsafe import load_yaml

ROOT = Path(__file__).resolve().parent.parent


def _tree_files(tree: pygit2.Tree, prefix: str = "") -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for entry in tree:
        if entry.type_str == "tree":
            files.update(_tree_files(entry, f"{prefix}{entry.name}/"))
        else:
            files[f"{prefix}{entry.name}"] = entry.data
    return files


def _template_files() -> dict[str, bytes]:
    """Every template file, following the `schemas` link to the project's schemas/ as `init` does."""
    files: dict[str, bytes] = {}
    for folder, _, names in os.walk(TEMPLATE_DIR, followlinks=True):
        for name in names:
            path = Path(folder) / name
            files[path.relative_to(TEMPLATE_DIR).as_posix()] = path.read_bytes()
    return files


def test_init_creates_a_repository_with_one_commit_of_the_template(tmp_path: Path) -> None:
    target = tmp_path / "gitops"
    oid = init_repository(target)
    repo = pygit2.Repository(str(target))
    assert repo.head.shorthand == "main"
    commit = repo[oid]
    assert commit.parents == [] and commit.message == INITIAL_COMMIT_MESSAGE
    assert repo.head.target == oid
    files = _tree_files(commit.tree)
    assert files == _template_files()
    assert repo.status() == {}


def test_layout_of_the_new_repository(tmp_path: Path) -> None:
    target = tmp_path / "gitops"
    files = _tree_files(pygit2.Repository(str(init_repository(target) and target)).head.peel(pygit2.Tree))
    for path in ("gitops-sla.yaml", "README.md", "examples/sla-aic.yaml", "requests/.gitkeep", "generated/kustomization.yaml",
                 "generated/index.yaml",
                 "bases/default/vllm-disagg/disagg.yaml", "bases/default/sglang-disagg/disagg.yaml",
                 "bases/default/trtllm-disagg/disagg.yaml", "apps/argocd/applicationset.yaml",
                 "apps/flux/kustomization.yaml", "apps/flux/flux-kustomization.yaml",
                 "apps/flux/gitrepository.yaml"):
        assert path in files, path
    for name in ("dynamographdeploymentrequest.schema.json", "repo-config.schema.json"):
        assert files[f"schemas/{name}"] == (PROJECT_SCHEMA_DIR / name).read_bytes()


def test_new_repository_validates(tmp_path: Path) -> None:
    target = tmp_path / "gitops"
    init_repository(target)
    reports = validate_paths([target])
    assert sorted(Path(r.file).relative_to(target).as_posix() for r in reports) == [
        "examples/sla-aic.yaml", "gitops-sla.yaml"]
    assert all(report.ok and report.issues == [] for report in reports)


def test_branch_option_sets_head_and_target_branch(tmp_path: Path) -> None:
    target = tmp_path / "gitops"
    init_repository(target, branch="production")
    repo = pygit2.Repository(str(target))
    assert repo.head.shorthand == "production"
    assert load_yaml((target / "gitops-sla.yaml").read_bytes()).data["targetBranch"] == "production"
    assert repo.status() == {}


def test_refuses_a_non_empty_folder_and_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(InitError, match="not an empty folder"):
        init_repository(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_refuses_a_bad_branch_name(tmp_path: Path) -> None:
    with pytest.raises(InitError, match="not a valid branch name"):
        init_repository(tmp_path / "x", branch="a..b")
    assert not (tmp_path / "x").exists()


def test_empty_existing_folder_is_fine(tmp_path: Path) -> None:
    init_repository(tmp_path)
    assert (tmp_path / ".git").is_dir()


def test_cli_init(tmp_path: Path, capsys) -> None:
    target = tmp_path / "gitops"
    assert main(["init", str(target)]) == 0
    out = capsys.readouterr().out
    assert f"Created a GitOps repository in {target} (branch main" in out
    assert f"cp {target}/examples/sla-aic.yaml {target}/requests/<namespace>/<name>.yaml" in out
    assert f"git clone --bare {target} {target}.git" in out
    assert main(["init", str(target)]) == 1
    assert "exists and is not an empty folder" in capsys.readouterr().err


def test_template_example_is_the_quickstart_example_deploying_nothing_until_reviewed() -> None:
    """The template ships no request (a first sync deploys nothing); its example is the quick-start's with
    autoApply: false, so even once copied into requests/ it arrives as a pull request."""
    assert not [p for p in (TEMPLATE_DIR / "requests").rglob("*") if p.is_file() and p.name != ".gitkeep"]
    template = (TEMPLATE_DIR / "examples" / "sla-aic.yaml").read_text().splitlines()
    example = (ROOT / "gitops_sla" / "examples" / "quickstart-aic.yaml").read_text().splitlines()
    assert template[0] == "# yaml-language-server: $schema=../schemas/dynamographdeploymentrequest.schema.json"
    body = [line for line in template if not line.startswith("#")]
    assert body == [line.replace("autoApply: true", "autoApply: false") for line in example
                    if not line.startswith("#")]
    assert "  autoApply: false" in template


def test_template_files_point_editors_at_the_schemas() -> None:
    for relative, schema in (("gitops-sla.yaml", "schemas/repo-config.schema.json"),
                             ("examples/sla-aic.yaml", "../schemas/dynamographdeploymentrequest.schema.json")):
        path = TEMPLATE_DIR / relative
        first = path.read_text().splitlines()[0]
        assert first == f"# yaml-language-server: $schema={schema}"
        assert (path.parent / schema).resolve().is_file()


def test_argo_cd_application_set_generates_one_app_per_indexed_folder() -> None:
    appset = load_yaml((TEMPLATE_DIR / "apps" / "argocd" / "applicationset.yaml").read_bytes()).data
    assert appset["kind"] == "ApplicationSet"
    (generator,) = appset["spec"]["generators"]
    assert generator["git"]["files"] == [{"path": "generated/index.yaml"}]  # only what the reconciler wrote
    template = appset["spec"]["template"]["spec"]
    assert template["source"]["path"] == "{{ .folder }}"
    assert template["destination"]["namespace"] == "{{ .namespace }}"
    assert template["syncPolicy"]["automated"]["prune"] is True
    assert appset["spec"]["template"]["metadata"]["finalizers"] == ["resources-finalizer.argocd.argoproj.io"]


def test_flux_kustomization_applies_generated() -> None:
    kustomization = load_yaml((TEMPLATE_DIR / "apps" / "flux" / "flux-kustomization.yaml").read_bytes()).data
    source = load_yaml((TEMPLATE_DIR / "apps" / "flux" / "gitrepository.yaml").read_bytes()).data
    assert kustomization["kind"] == "Kustomization"
    assert kustomization["apiVersion"].startswith("kustomize.toolkit.fluxcd.io/")
    assert kustomization["spec"]["path"] == "./generated" and kustomization["spec"]["prune"] is True
    assert kustomization["spec"]["sourceRef"] == {"kind": "GitRepository", "name": source["metadata"]["name"]}


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (kustomize) is not installed")
def test_every_apps_folder_renders_with_kubectl_kustomize(tmp_path: Path) -> None:
    """`kubectl apply -k apps/<folder>/` as the repository README says: each folder is a valid kustomization
    that yields exactly the Argo CD or Flux objects (a Flux Kustomization in a file named kustomization.yaml
    would be read by kustomize as its own config and fail)."""
    target = tmp_path / "gitops"
    init_repository(target)
    expected = {
        "argocd": [("ApplicationSet", "argocd", "gitops-sla")],
        "argocd-planner-patch-mode": [("ApplicationSet", "argocd", "gitops-sla")],
        "flux": [("GitRepository", "flux-system", "gitops-sla"),
                 ("Kustomization", "flux-system", "gitops-sla-generated")],
    }
    assert sorted(p.name for p in (target / "apps").iterdir()) == sorted(expected)
    for folder, objects in expected.items():
        done = subprocess.run(["kubectl", "kustomize", str(target / "apps" / folder)],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"apps/{folder}: {done.stderr}"
        rendered = [doc for doc in yaml.safe_load_all(done.stdout) if doc]
        found = sorted((doc["kind"], doc["metadata"]["namespace"], doc["metadata"]["name"]) for doc in rendered)
        assert found == objects, folder
    readme = (target / "README.md").read_text()
    assert "kubectl apply -k apps/argocd/" in readme and "kubectl apply -k apps/flux/" in readme
    assert "-f apps/" not in readme


def test_vendored_bases_are_unchanged_copies() -> None:
    for backend in ("vllm", "sglang", "trtllm"):
        vendored = ROOT / "profiler" / "vendor" / "dynamo" / "base-configs" / backend / "disagg.yaml"
        template = TEMPLATE_DIR / "bases" / "default" / f"{backend}-disagg" / "disagg.yaml"
        assert template.read_bytes() == vendored.read_bytes()
