"""The SLA planner: Prometheus in, replica decisions out (Kubernetes patch, Git commit or advice).

Run it as `python -m planner` (see docs/planner.md). Public API used by other parts:

- The planner-owned `replicas.yaml` kustomize patch is rendered by `gitops_sla.replicas_patch`
  (`render_replicas_patch`, `initial_replicas_patch`): the reconciler writes the initial one and lists it in
  `kustomization.yaml`, git mode commits later ones.
- `planner.profile_data.load_profile_data(dir) -> ProfileData`: Dynamo-format profile data, validated.
- `planner.policy.decide(...)`: one pure decision; `planner.core.Planner.step()`: one step with I/O.
"""
