"""Operator mistakes get a clear message and exit status 1 before any work starts, never a traceback."""

from __future__ import annotations

from pathlib import Path

from gitops_sla.cli import main
from gitops_sla.template import init_repository


def test_reconciling_the_checkout_init_creates_fails_first_with_what_to_do(tmp_path: Path, capsys) -> None:
    repo = tmp_path / "gitops"
    init_repository(repo)
    code = main(["reconcile", "--repo", str(repo), "--once", "--cache-dir", str(tmp_path / "cache")])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""  # nothing worked on, nothing profiled
    assert f"git clone --bare {repo} {repo}.git, then --repo {repo}.git" in err
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_a_missing_repository_path_is_named_not_an_unsupported_protocol(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "nowhere"
    for command in (["reconcile", "--once"], ["status"]):
        code = main([*command, "--repo", str(missing), "--cache-dir", str(tmp_path / "cache")])
        out, err = capsys.readouterr()
        assert code == 1 and "unsupported URL protocol" not in err
        assert f"repository {missing} does not exist" in err


def test_ai_configurators_logging_only_with_vv(capsys) -> None:
    import logging

    from gitops_sla.commands.reconcile import AIC_LOGGERS, configure_logging

    root = logging.getLogger()
    saved = (root.level, root.handlers[:], {name: logging.getLogger(name).level for name in AIC_LOGGERS})
    root.handlers[:] = [logging.StreamHandler()]  # stderr, as the CLI's basicConfig sets it up
    try:
        for verbosity, shown in ((0, False), (1, False), (2, True)):
            configure_logging(verbosity)
            logging.getLogger("aiconfigurator_core.sdk.perf_database").warning("loading table x")
            logging.getLogger("gitops_sla.reconcile.engine").info("a step")
            err = capsys.readouterr().err
            assert ("loading table x" in err) == shown
            assert ("a step" in err) == (verbosity >= 1)
            root.setLevel(logging.WARNING)
    finally:
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]
        for name, level in saved[2].items():
            logging.getLogger(name).setLevel(level)
