"""Limits that keep one request from stalling or flooding the reconciler: bounded numbers (the malformed corpus
has a case per bound), a capped number of reported issues, AI Configurator names that are never paths."""

from __future__ import annotations

from pathlib import Path

from gitops_sla.validation import MAX_ISSUES, validate_request_file

CORPUS = Path(__file__).parent / "data" / "malformed"
VALID = (CORPUS / "001-type-isl-string.yaml").read_text().replace("isl: abc", "isl: 3000")


def test_a_request_with_45000_unknown_keys_reports_a_bounded_number_of_issues() -> None:
    unknown = "".join(f"      k{i:05d}: 1\n" for i in range(45_000))
    text = VALID.replace("      sla:\n", unknown + "      sla:\n")
    assert len(text) > 700_000
    result = validate_request_file(text.encode(), file="requests/team-a/chat.yaml")
    assert not result.ok
    assert len(result.issues) == MAX_ISSUES + 1
    assert all("unknown key 'k" in issue.message for issue in result.issues[:MAX_ISSUES])
    last = result.issues[-1]
    assert (last.line, last.column, last.severity) == (1, 1, "error")
    assert last.message.startswith(f"{45_000 - MAX_ISSUES} more problem(s) not shown")
    assert sum(len(str(issue)) for issue in result.issues) < 50_000


def test_numbers_at_their_limits_pass_and_one_past_fails() -> None:
    # measured profiling: no model context to check against, only the limits
    at_limit = (VALID.replace("osl: 150", "osl: 262144").replace("isl: 3000", "isl: 1048576")
                .replace("useAiConfigurator: true", "useAiConfigurator: false"))
    assert validate_request_file(at_limit.encode(), file="f.yaml").ok
    past = VALID.replace("osl: 150", "osl: 262145")
    (issue,) = validate_request_file(past.encode(), file="f.yaml").issues
    assert issue.path == "spec.profilingConfig.config.sla.osl" and "lower it" in issue.message


def test_hugging_face_ids_and_version_names_pass_paths_do_not() -> None:
    named = VALID.replace("aicSystem: h200_sxm", "aicSystem: h200_sxm\n        aicHfId: Qwen/Qwen3-32B\n"
                          "        aicBackendVersion: 1.0.0rc3")
    assert validate_request_file(named.encode(), file="f.yaml").ok
    for bad in ("Qwen/../../etc", "/etc/passwd", "a/b/c", ".hidden", "~/x"):
        text = VALID.replace("aicSystem: h200_sxm", f"aicSystem: h200_sxm\n        aicHfId: '{bad}'")
        (issue,) = validate_request_file(text.encode(), file="f.yaml").issues
        assert "never a path" in issue.message, bad


def test_long_keys_cannot_make_the_issues_huge() -> None:
    """150 unknown keys of 1,000 characters each (YAML's longest plain key): the issues (what status.yaml
    records) stay small."""
    unknown = "".join(f"      {'k' * 1_000}{i:03d}: 1\n" for i in range(150))
    text = VALID.replace("      sla:\n", unknown + "      sla:\n")
    result = validate_request_file(text.encode(), file="requests/team-a/chat.yaml")
    assert len(result.issues) == MAX_ISSUES + 1
    assert "(1003 characters)" in result.issues[0].message
    assert sum(len(str(issue)) for issue in result.issues) < 60_000  # unbounded: over 200,000
