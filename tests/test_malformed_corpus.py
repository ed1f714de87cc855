"""The malformed corpus: every file in tests/data/malformed/ must fail with the field path, line and message
its header names (`# expect-path:`, `# expect-line:`, `# expect-message:`; `# repo-path:` places the file in
a repository, `# kind: repo-config` checks it as gitops-sla.yaml)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_sla.validation import validate_repo_config, validate_request_file
from gitops_sla.yamlsafe import MAX_BYTES

CORPUS = Path(__file__).parent / "data" / "malformed"
CASES = sorted(CORPUS.glob("*.yaml"))


def _header(raw: bytes) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in raw.split(b"\n"):
        if not line.startswith(b"# "):
            break
        key, _, value = line[2:].decode("ascii").partition(": ")
        fields[key] = value
    return fields


def _validate(raw: bytes, name: str, header: dict[str, str]):
    if header.get("kind") == "repo-config":
        return validate_repo_config(raw, file=name)
    return validate_request_file(raw, file=name, repo_path=header.get("repo-path"))


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 100


@pytest.mark.parametrize("case", CASES, ids=[case.stem for case in CASES])
def test_malformed_case_is_located(case: Path) -> None:
    raw = case.read_bytes()
    header = _header(raw)
    expected_path = "" if header["expect-path"] == "-" else header["expect-path"]
    expected_line = int(header["expect-line"])
    result = _validate(raw, case.name, header)
    assert not result.ok, f"{case.name} was accepted"
    matching = [
        issue for issue in result.issues
        if issue.severity == "error" and issue.path == expected_path and issue.line == expected_line
    ]
    shown = "\n".join(str(issue) for issue in result.issues)
    assert matching, f"no error at {expected_path or '<file>'} line {expected_line}; got:\n{shown}"
    assert any(header["expect-message"] in issue.message for issue in matching), shown
    assert all(issue.file == case.name for issue in result.issues)


def test_oversized_file_is_refused_before_parsing(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"apiVersion: nvidia.com/v1alpha1\n" + b"# padding\n" * (MAX_BYTES // 10 + 1))
    result = validate_request_file(big, file="requests/default/big.yaml")
    assert [(i.path, i.line, i.column) for i in result.issues] == [("", 1, 1)]
    assert "more than the limit of 1048576 bytes" in result.issues[0].message


def test_oversized_bytes_are_refused() -> None:
    result = validate_request_file(b"a: 1\n" + b" " * MAX_BYTES, file="x.yaml")
    assert not result.ok and "1 MiB" in result.issues[0].message
