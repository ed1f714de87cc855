"""`gitops-sla demo` as the README tells a newcomer to run it: one pass over the quick-start DGDR, no cluster."""

from __future__ import annotations

import yaml
from reconcile_support import git

from gitops_sla.cli import main


def test_demo_generates_the_quickstart_dgd_and_prints_summary_status_and_log(tmp_path, capsys):
    assert main(["demo", "--keep", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    origin = tmp_path / "demo" / "origin.git"

    # the repository it leaves behind: template, the person's request, one generating commit
    subjects = git(origin, "log", "--format=%s (%an)", "main").splitlines()
    assert len(subjects) == 3 and subjects[0] == "gitops-sla: default/sla-aic: generate DGD (SLA met) (gitops-sla)"
    assert subjects[1].endswith("(A. Person)")
    dgd = yaml.safe_load(git(origin, "show", "main:generated/default/sla-aic/dgd.yaml"))
    assert dgd["kind"] == "DynamoGraphDeployment" and dgd["metadata"]["name"] == "sla-aic"

    # what it prints: the DGD's services, the status table, the commit log with trailers, an idle second pass
    for name, service in dgd["spec"]["services"].items():
        assert any(line.split()[:2] == [name, service["componentType"]] for line in out.splitlines()), name
    assert "NAME      NAMESPACE   MODEL            BACKEND   STATE       SLA MET   AGE" in out
    head = git(origin, "rev-parse", "main").strip()
    assert f"{head[:12]} gitops-sla: default/sla-aic: generate DGD" in out
    assert "Gitops-Sla-Request: default/sla-aic" in out
    assert "7. A second pass: idle, nothing to do" in out
