"""`generated/<namespace>/<name>/replicas.yaml`: the planner's kustomize patch over the reconciler's DGD.

The reconciler's `kustomization.yaml` lists it under `patches`; the planner owns its content. Two forms:

- git mode: explicit counts, `spec.services.<svc>.replicas: N` for the prefill and decode services; Git is the
  source of truth and Argo CD/Flux apply the planner's commits (nothing to ignore);
- patch mode: a *release* patch, `replicas: null` for those services, which removes the fields from what Argo CD
  or Flux apply, so they never reset what the planner patched in the cluster. (Flux has no ignoreDifferences:
  server-side apply leaves a field alone only when the manifests do not set it. Argo CD additionally gets the
  `ignoreDifferences` rule of `repo-template/apps/argocd/planner-patch-mode/`.)

Output is deterministic: sorted keys, block style, no timestamps.
"""

from __future__ import annotations

import io
from typing import Any, Mapping

from ruamel.yaml import YAML

from planner.dgd import resolve_services, service_replicas
from planner.policy import Replicas

HEADER = ("# Owned by the gitops-sla planner: a kustomize patch over this folder's DGD, listed under `patches` in\n"
          "# kustomization.yaml. Do not edit by hand; in git mode the planner's next commit replaces it.\n")


def render_replicas_patch(dgd_name: str, services: Mapping[str, str], replicas: Replicas | None) -> bytes:
    """The patch file: explicit replicas, or (None) the release form for patch mode."""
    prefill = None if replicas is None else replicas.prefill
    decode = None if replicas is None else replicas.decode
    doc = {
        "apiVersion": "nvidia.com/v1alpha1",
        "kind": "DynamoGraphDeployment",
        "metadata": {"name": dgd_name},
        "spec": {"services": {services["prefill"]: {"replicas": prefill},
                              services["decode"]: {"replicas": decode}}},
    }
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    buffer = io.StringIO()
    yaml.dump(doc, buffer)
    return (HEADER + buffer.getvalue()).encode()


def initial_replicas_patch(dgd: Mapping[str, Any], planner_mode: str) -> bytes:
    """What the reconciler writes when `replicas.yaml` does not exist yet (it never rewrites an existing one):
    the DGD's own counts in git mode (a no-op patch the planner then updates), the release form in patch mode,
    and the DGD's counts in advisory mode (nobody scales; Git keeps them)."""
    services = resolve_services(dgd)
    name = dgd["metadata"]["name"]
    if planner_mode == "patch":
        return render_replicas_patch(name, services, None)
    return render_replicas_patch(name, services, service_replicas(dgd, services))
