"""The reconcile loop as plain steps: discover requests, detect changes by spec hash, validate, profile,
write the generated folder (commit or pull request), record the lifecycle in `status.yaml`."""

from gitops_sla.reconcile.engine import PassReport, Reconciler, RequestOutcome
from gitops_sla.reconcile.profiling import BackgroundBackend, InlineBackend, ProfileJob, ProfileOutput, Running

__all__ = ["BackgroundBackend", "InlineBackend", "PassReport", "ProfileJob", "ProfileOutput", "Reconciler",
           "RequestOutcome", "Running"]
