"""The reconciler's room for the cluster: everything that talks to a Kubernetes API server lives here.

The reconcile loop (`gitops_sla.reconcile`) never imports the Kubernetes client. It sees the cluster only
through the small protocols it already has or defines:
- `ProfilingBackend` (`gitops_sla.reconcile.profiling`): online profiling runs as a Kubernetes Job
  (`jobs.py`), its result read back on a later pass;
- a deployment-state reader for readiness feedback (`readiness.py`);
- leader election (`lease.py`) wraps whole passes in `gitops_sla.commands.reconcile`, not the loop itself;
  the leader labels its own pod so the webhook Service routes to it (`leader_label.py`).

`client.py` builds the API client (in-cluster service account, else a kubeconfig); `discovery.py` reads the
nodes' GPU labels. Modules here are thin adapters over the official `kubernetes` client.
"""
