"""Build a checkout's `generated/` as Flux's kustomize-controller and Argo CD build it, with the real
`kubectl kustomize`.

Flux (`fluxcd/pkg/kustomize`, `generateKustomization`): a path with a kustomization file is built as it is;
a path without one gets a generated kustomization listing every `.yaml`/`.yml` file below it, where a
sub-folder holding a kustomization file is listed as a folder and not descended into. Argo CD (an
ApplicationSet's Git files generator over `generated/index.yaml`, then each Application's source folder): a
folder with a kustomization file is a Kustomize app; one without is a directory app whose `.yaml`/`.yml`/
`.json` files (not recursive) must each be Kubernetes objects."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import yaml

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


class BuildFailed(AssertionError):
    """The folder would not build in Flux or Argo CD; the message is kustomize's (or the object check's)."""


def _has_kustomization(folder: Path) -> bool:
    return any((folder / name).is_file() for name in KUSTOMIZATION_NAMES)


def kustomize(folder: Path) -> list[dict]:
    done = subprocess.run(["kubectl", "kustomize", str(folder)], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise BuildFailed(f"kubectl kustomize {folder}: {done.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def flux_build(checkout: Path, path: str, work: Path) -> list[dict]:
    """The objects Flux's Kustomization with `spec.path: ./<path>` applies (built in a copy, as Flux does)."""
    copy = work / "flux-build"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(checkout, copy, ignore=shutil.ignore_patterns(".git"))
    root = copy / path
    if not _has_kustomization(root):
        resources = []
        for current, dirs, files in os.walk(root):
            here = Path(current)
            dirs.sort()
            for name in list(dirs):
                if _has_kustomization(here / name):  # listed as a folder, not descended into
                    resources.append(str((here / name).relative_to(root)))
                    dirs.remove(name)
            resources += [str((here / f).relative_to(root)) for f in sorted(files) if f.endswith((".yaml", ".yml"))]
        (root / "kustomization.yaml").write_text(yaml.safe_dump(
            {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": resources}))
    return kustomize(root)


def argo_folder_build(folder: Path) -> list[dict]:
    """The objects an Argo CD Application with this source folder applies."""
    if _has_kustomization(folder):
        return kustomize(folder)
    objects = []
    for item in sorted(folder.iterdir()):
        if item.is_file() and item.suffix in (".yaml", ".yml", ".json"):
            for doc in yaml.safe_load_all(item.read_text()):
                if not (isinstance(doc, dict) and doc.get("apiVersion") and doc.get("kind")
                        and (doc.get("metadata") or {}).get("name")):
                    raise BuildFailed(f"{item}: not a Kubernetes object (apiVersion, kind, metadata.name)")
                objects.append(doc)
    return objects


def argo_build(checkout: Path) -> dict[str, list[dict]]:
    """Application name -> objects, for the repository template's ApplicationSet (files generator over
    `generated/index.yaml`)."""
    entries = yaml.safe_load((checkout / "generated" / "index.yaml").read_text()) or []
    return {f"dgdr-{e['namespace']}-{e['request']}": argo_folder_build(checkout / e["folder"]) for e in entries}
