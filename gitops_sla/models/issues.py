"""A located problem in a file: what `gitops-sla validate` prints and `status.yaml` records."""

from __future__ import annotations

from typing import Literal

from gitops_sla.models.base import WrittenModel

Severity = Literal["error", "warning"]


class ValidationIssue(WrittenModel):
    """One problem: `file:line:column: path: message` (1-based line and column; path dotted, e.g.
    `spec.profilingConfig.config.sla.ttft`, spelled as in the file; empty for whole-file problems)."""

    file: str
    line: int
    column: int
    path: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}: "
        field = f"{self.path}: " if self.path else ""
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{where}{field}{prefix}{self.message}"
