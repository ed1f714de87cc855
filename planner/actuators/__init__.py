"""How decisions are applied: `patch` (Kubernetes), `git` (a commit to the GitOps repo), `advisory` (metrics only)."""
