"""The SLA planner: Prometheus in, replica decisions out (Kubernetes patch, Git commit or advice).

Run it as `python -m planner` (see docs/planner.md). Public API used by other parts:

- `planner.replicas_patch.render_replicas_patch(dgd_name, services, replicas | None) -> bytes` and
  `initial_replicas_patch(dgd, planner_mode) -> bytes`: the planner-owned `replicas.yaml` kustomize patch
  (the reconciler writes the initial one and lists it in `kustomization.yaml`).
- `planner.profile_data.load_profile_data(dir) -> ProfileData`: Dynamo-format profile data, validated.
- `planner.policy.decide(...)`: one pure decision; `planner.core.Planner.step()`: one step with I/O.
"""
