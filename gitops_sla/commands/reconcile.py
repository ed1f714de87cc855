"""`gitops-sla reconcile --repo URL_OR_PATH [--branch main] --once|--watch`: Git in, Git out.

--once runs one pass and exits (0: no errors). --watch runs a pass every --interval seconds and at once on
a push webhook, serving /healthz, /metrics and webhooks on --listen.

Credentials (never logged, and only ever the operator's choice, never the repository's): Git over HTTP(S) from
--git-token-file or GITOPS_SLA_GIT_TOKEN[_FILE] (user GITOPS_SLA_GIT_USERNAME, default x-access-token); Git over
SSH with --git-ssh-key-file / GITOPS_SLA_GIT_SSH_KEY_FILE, the server's key checked against --git-known-hosts-file
/ GITOPS_SLA_GIT_KNOWN_HOSTS_FILE (unknown hosts are refused); pull
requests (GitHub), merge requests (GitLab) or pull requests (Gitea), chosen by --forge or GITOPS_SLA_FORGE_KIND,
to --forge-api-url or GITOPS_SLA_FORGE_API_URL (default api.github.com) with --forge-token-file or
GITOPS_SLA_FORGE_TOKEN[_FILE]; the webhook secret from --webhook-secret-file or GITOPS_SLA_WEBHOOK_SECRET[_FILE].

High availability (--watch --leader-elect): every replica campaigns for a coordination.k8s.io/v1 Lease
(--lease NAMESPACE/NAME); only its holder runs passes, the others wait and take over when it is gone. The
holder labels its own pod ($POD_NAME, $POD_NAMESPACE) gitops-sla.dev/leader=true, so webhooks reach it.
Readiness (--track-deployments): after each pass, each generated DGD's state in the cluster is recorded in its
status.yaml (Ready, Failed, DeploymentDeleted; one commit per change) and as a commit status on the forge.
Cluster access comes from --kubeconfig, else the pod's service account, else $KUBECONFIG.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path

import pygit2

from gitops_sla import layout
from gitops_sla.cluster.errors import ClusterConfigError
from gitops_sla.forge import FORGE_KINDS, Forge, ForgeError, ForgeSettings, open_forge
from gitops_sla.forge.base import ENV_KIND as ENV_FORGE_KIND
from gitops_sla.git import GitCredentials, GitSyncError, Mirror, SshKey
from gitops_sla.models import RepoConfig
from gitops_sla.models.repo_config import is_remote_url
from gitops_sla.secrets import resolve_secret
from gitops_sla.reconcile.engine import PassReport, Reconciler, RequestOutcome
from gitops_sla.reconcile.isolated import DEFAULT_BUDGET_S, IsolatedProfile
from gitops_sla.reconcile.profiling import ProfilingBackend
from gitops_sla.validation import validate_repo_config

ENV_WEBHOOK_SECRET = "GITOPS_SLA_WEBHOOK_SECRET"
ENV_WEBHOOK_SECRET_FILE = "GITOPS_SLA_WEBHOOK_SECRET_FILE"


def add_repo_arguments(parser: argparse.ArgumentParser) -> None:
    """--repo, --branch, --cache-dir and Git credentials (shared with `status`)."""
    parser.add_argument("--repo", required=True, metavar="URL_OR_PATH", help="Git URL or local path of the repository")
    parser.add_argument("--branch", default="main", help="target branch (default: main)")
    parser.add_argument("--cache-dir", type=Path, help="where the bare mirror lives (default: ~/.cache/gitops-sla)")
    parser.add_argument("--git-username", help="user for HTTP(S) Git (default: $GITOPS_SLA_GIT_USERNAME)")
    parser.add_argument("--git-token-file", help="file holding the Git token/password (default: $GITOPS_SLA_GIT_TOKEN)")
    parser.add_argument("--git-ssh-key-file", help="SSH remotes (ssh://, git@host:path): the private key, without "
                        "passphrase (default: $GITOPS_SLA_GIT_SSH_KEY_FILE)")
    parser.add_argument("--git-known-hosts-file", help="SSH remotes: the known_hosts file the server's key must be in "
                        "(default: $GITOPS_SLA_GIT_KNOWN_HOSTS_FILE, else ~/.ssh/known_hosts)")


def open_mirror(args: argparse.Namespace) -> Mirror:
    credentials = GitCredentials.resolve(username=args.git_username, token_file=args.git_token_file)
    ssh = SshKey.resolve(key_file=args.git_ssh_key_file, known_hosts_file=args.git_known_hosts_file)
    return Mirror(args.repo, args.cache_dir, credentials, ssh)


def _repo_config(mirror: Mirror, branch: str) -> RepoConfig:
    data = mirror.snapshot(mirror.head(branch)).read(layout.REPO_CONFIG_FILE)
    checked = validate_repo_config(data, file=layout.REPO_CONFIG_FILE) if data is not None else None
    return checked.config if checked is not None and checked.config is not None else RepoConfig()


def resolve_forge(args: argparse.Namespace, mirror: Mirror) -> Forge | None:
    """The forge for pull requests and commit statuses. Where credentials go and which files or variables hold
    them is the operator's choice: the kind, the API URL and the token come from flags and GITOPS_SLA_FORGE_*
    variables only, never from the repository. The forge repository is the operator's (`--forge-repo`), else the
    Git remote's; gitops-sla.yaml's `owner`/`repository` only where the remote URL names none."""
    section = _repo_config(mirror, args.branch).forge if mirror.head(args.branch) else None
    settings = ForgeSettings.resolve(
        kind=getattr(args, "forge", None), api_url=args.forge_api_url, repo=args.forge_repo,
        token_file=args.forge_token_file, remote_url=mirror.url,
        repo_config=f"{section.owner}/{section.repository}" if section else None,
    )
    return open_forge(settings) if settings else None


def check_pushable(repo: str, branch: str) -> None:
    """Git refuses a push to the checked-out branch of a non-bare repository (such as the one `gitops-sla init`
    creates), so say so before any profiling rather than after it."""
    if is_remote_url(repo):
        return
    try:
        local = pygit2.Repository(str(Path(repo).expanduser()))
    except pygit2.GitError:
        return  # not a repository: the mirror's fetch says so
    if local.is_bare or local.head_is_unborn or local.head.shorthand != branch:
        return
    raise GitSyncError(
        f"{repo} has branch '{branch}' checked out, and Git refuses pushes to a checked-out branch; reconcile a "
        f"bare copy instead: git clone --bare {repo} {repo.rstrip('/')}.git, then --repo {repo.rstrip('/')}.git "
        "(or push the repository to a Git server and pass its URL)")


def build_reconciler(args: argparse.Namespace) -> Reconciler:
    from gitops_sla.reconcile.cache import DiskCache
    from gitops_sla.reconcile.offline import offline_profile
    from gitops_sla.reconcile.profiling import BackgroundBackend, InlineBackend
    from profiler.version import PROFILER_VERSION

    check_pushable(args.repo, args.branch)
    mirror = open_mirror(args)
    mirror.fetch()
    profile = IsolatedProfile(offline_profile, budget_s=args.profile_timeout)
    profile = DiskCache(args.profile_cache).wrap(profile) if args.profile_cache else profile
    offline = (BackgroundBackend(profile, PROFILER_VERSION) if args.background_profiling
               else InlineBackend(profile, PROFILER_VERSION))
    forge = resolve_forge(args, mirror)
    return Reconciler(mirror, online_backend(args, offline), branch=args.branch, forge=forge,
                      progress=print_progress, progress_interval_s=args.progress_interval,
                      readiness=readiness_tracker(args, forge) if args.track_deployments else None)


def readiness_tracker(args: argparse.Namespace, forge: Forge | None) -> ReadinessTracker:
    """--track-deployments: each applied DGD's state from the cluster into status.yaml (and commit statuses)."""
    from gitops_sla.cluster.client import api_client
    from gitops_sla.cluster.readiness import KubeDeploymentReader

    return ReadinessTracker(KubeDeploymentReader(api_client(args.kubeconfig)), statuses=forge)


def online_backend(args: argparse.Namespace, offline: ProfilingBackend) -> ProfilingBackend:
    """`offline` for estimates, and for measured requests what --online-engines says: none, a local process per
    request, or a Job on the cluster (which also fills the hardware of requests that enable GPU discovery)."""
    from gitops_sla.reconcile.profiling import RoutingBackend
    from profiler.version import PROFILER_VERSION

    options = tuple(args.engine_option or ())
    if args.online_engines == "none":
        return RoutingBackend(offline)
    if args.online_engines != "kubernetes":
        from gitops_sla.reconcile.online import LocalProcessBackend

        work = args.online_work_dir or Path.home() / ".cache" / "gitops-sla" / "online"
        extra = tuple(arg for option in options for arg in ("--engine-option", option))
        local = LocalProcessBackend(work, args.online_engines, PROFILER_VERSION, extra_args=extra)
        return RoutingBackend(offline, local)
    from gitops_sla.cluster.client import api_client
    from gitops_sla.cluster.discovery import DiscoveringBackend
    from gitops_sla.cluster.jobs import JobBackend, JobSettings

    api = api_client(args.kubeconfig)  # ClusterConfigError says what to set
    from profiler.version import DEFAULT_PLANNER_IMAGE  # this project's image: it holds the profiler too

    settings = JobSettings(image=args.profiling_image or DEFAULT_PLANNER_IMAGE,
                           service_account=args.profiling_service_account,
                           trust_request_image=args.trust_request_profiler_image, engine_options=options)
    return DiscoveringBackend(RoutingBackend(offline, JobBackend(api, settings, PROFILER_VERSION)), api)



class WebhookSecretError(ValueError):
    """The webhook secret file cannot be read or is empty."""


def webhook_secret(args: argparse.Namespace) -> str | None:
    """--webhook-secret-file, else $GITOPS_SLA_WEBHOOK_SECRET, else $GITOPS_SLA_WEBHOOK_SECRET_FILE; None: none set."""
    env = {} if args.webhook_secret_file else os.environ
    return resolve_secret(value=None, file=args.webhook_secret_file, env=env, env_var=ENV_WEBHOOK_SECRET,
                          env_file_var=ENV_WEBHOOK_SECRET_FILE, what="webhook secret", error=WebhookSecretError)


def print_progress(key: tuple[str, str], outcome: RequestOutcome | None, stream=None) -> None:
    """One line when the pass starts working on a request, one when it is done with it."""
    stream = stream or sys.stdout
    if outcome is None:
        print(f"{key[0]}/{key[1]}: working", file=stream, flush=True)
        return
    commit = f" {outcome.commit[:12]}" if outcome.commit else ""
    message = f" — {outcome.message}" if outcome.message else ""
    print(f"{outcome.namespace}/{outcome.name}: {outcome.action} ({outcome.state or '-'}){commit}{message}",
          file=stream, flush=True)


def print_report(report: PassReport, stream=None) -> None:
    """The pass's summary (its requests were printed by `print_progress` as they ended)."""
    stream = stream or sys.stdout
    if report.error:
        print(f"error: {report.error}", file=sys.stderr)
        return
    if report.idle:
        return
    for message in report.skipped:
        print(f"warning: {message}", file=sys.stderr)
    print(f"pass over {report.head[:12] if report.head else '-'}: {report.checked} checked, "
          f"{len(report.worked)} changed, {len(report.commits)} commits, {report.duration_s:.2f} s", file=stream)


AIC_LOGGERS = ("aiconfigurator", "aiconfigurator_core")


def configure_logging(verbosity: int) -> None:
    """Warnings by default; `-v` logs each step; AI Configurator's own logging (chatty: it reports every table
    it loads) only with `-vv`, else only its errors."""
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(logging.INFO if verbosity else logging.WARNING)
    for name in AIC_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET if verbosity >= 2 else logging.ERROR)


def run(args: argparse.Namespace) -> int:
    configure_logging(args.verbose)
    if args.leader_elect and not args.watch:
        print("error: --leader-elect needs --watch (one pass needs no leader: pushes are fast-forward only)",
              file=sys.stderr)
        return 2
    try:
        secret = webhook_secret(args) if args.watch else None
        reconciler = build_reconciler(args)
    except (GitSyncError, ForgeError, WebhookSecretError, ClusterConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not args.watch:
        report = reconciler.run_pass(full=True)
        print_report(report)
        return 1 if report.error or any(o.action == "error" for o in report.outcomes) else 0
    from gitops_sla.server import WatchLoop

    loop = WatchLoop(reconciler, args.interval, webhook_secret=secret)
    elector = None
    if args.leader_elect:
        try:
            elector = leader_elector(args, on_started_leading=loop.trigger)
        except (ValueError, ClusterConfigError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        loop.leader = elector.is_leader
        elector.start()
        label = elector.pod_label
        print(f"leader election: {elector.identity} campaigns for lease {args.lease}; "
              + (f"labels pod {label.namespace}/{label.pod} while leading" if label else
                 "$POD_NAME is unset, so no pod is labelled leader and the webhook Service cannot select it"),
              flush=True)
    if args.listen:
        host, _, port = args.listen.rpartition(":")
        try:
            bound = loop.listen(host or "127.0.0.1", int(port))
        except (OSError, ValueError) as exc:
            reason = os.strerror(exc.errno) if isinstance(exc, OSError) and exc.errno else str(exc)
            print(f"error: cannot listen on {args.listen} ({reason}): another reconciler or program may use the "
                  "port; stop it, or pass another --listen HOST:PORT (or --listen '' for no listener)",
                  file=sys.stderr)
            return 1
        print(f"listening on http://{bound[0]}:{bound[1]} (/healthz, /metrics, webhooks)", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: loop.stop())  # a pod's shutdown: finish the pass, hand over
    try:
        loop.run(on_report=print_report)
    except KeyboardInterrupt:
        loop.stop()
    finally:
        if elector is not None:
            elector.stop()
    return 0


def leader_elector(args: argparse.Namespace, on_started_leading=None):
    """The Lease campaign of --leader-elect (kubernetes is imported only when asked for)."""
    from gitops_sla.cluster.client import api_client, in_cluster_namespace
    from gitops_sla.cluster.leader_label import LeaderPodLabel
    from gitops_sla.cluster.lease import LeaderElector, LeaseSettings

    namespace, _, name = args.lease.rpartition("/")
    settings = LeaseSettings(name=name, namespace=namespace or in_cluster_namespace(),
                             lease_duration_s=args.lease_duration, renew_deadline_s=args.renew_deadline,
                             retry_period_s=args.retry_period)
    api = api_client(args.kubeconfig)
    return LeaderElector(api, settings, on_started_leading=on_started_leading,
                         pod_label=LeaderPodLabel.from_environment(api, in_cluster_namespace()))


def _positive_seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("reconcile", help="turn requests in a Git repo into generated DGDs (commits or PRs)",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_repo_arguments(parser)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--once", action="store_true", help="one pass, then exit")
    mode.add_argument("--watch", action="store_true", help="keep reconciling (poll + webhooks)")
    parser.add_argument("--interval", type=float, default=30.0, help="seconds between passes in --watch (default 30)")
    parser.add_argument("--listen", default="127.0.0.1:8080", help="HOST:PORT for /healthz, /metrics, webhooks "
                        "(--watch; empty to disable; default 127.0.0.1:8080)")
    parser.add_argument("--webhook-secret-file", help=f"file with the webhook secret (default: ${ENV_WEBHOOK_SECRET}, "
                        f"${ENV_WEBHOOK_SECRET_FILE})")
    parser.add_argument("--forge", choices=FORGE_KINDS, help=f"the forge's kind: GitHub pull requests, GitLab merge "
                        f"requests or Gitea pull requests (default: ${ENV_FORGE_KIND}, else inferred from the API URL: "
                        ".../api/v4 GitLab, .../api/v1 Gitea, else github)")
    parser.add_argument("--forge-api-url", help="the forge's REST API URL (default: $GITOPS_SLA_FORGE_API_URL, then "
                        "api.github.com; GitLab: https://HOST/api/v4, Gitea: https://HOST/api/v1)")
    parser.add_argument("--forge-repo", metavar="OWNER/NAME", help="repository for pull requests (default: "
                        "$GITOPS_SLA_FORGE_REPO, then gitops-sla.yaml's forge.owner/repository, then the --repo URL)")
    parser.add_argument("--forge-token-file", help="file holding the forge token (default: $GITOPS_SLA_FORGE_TOKEN)")
    parser.add_argument("--profile-cache", type=Path, help="folder caching profiling outputs by spec hash")
    parser.add_argument("--profile-timeout", type=_positive_seconds, default=DEFAULT_BUDGET_S,
                        metavar="SECONDS", help="time budget of one request's profiling; past it the request is "
                        f"Failed (ProfilingTimedOut) and the pass goes on (default {DEFAULT_BUDGET_S:g})")
    parser.add_argument("--background-profiling", action="store_true",
                        help="profile in a background thread; passes record Profiling and pick up the result later")
    cluster = parser.add_argument_group("cluster (optional)")
    cluster.add_argument("--kubeconfig", help="kubeconfig file (default: the pod's service account, else $KUBECONFIG)")
    cluster.add_argument("--track-deployments", action="store_true",
                         help="read each applied DGD's state and record Ready/Failed/DeploymentDeleted in status.yaml "
                              "(and as a commit status on the forge)")
    cluster.add_argument("--leader-elect", action="store_true",
                         help="--watch with several replicas: only the holder of the Lease runs passes")
    cluster.add_argument("--lease", default="gitops-sla-reconciler", metavar="[NAMESPACE/]NAME",
                         help="the Lease (default: gitops-sla-reconciler in the pod's namespace)")
    cluster.add_argument("--lease-duration", type=float, default=15.0,
                         help="seconds a standby waits for a silent leader before taking over (default 15)")
    cluster.add_argument("--renew-deadline", type=float, default=10.0,
                         help="seconds the leader keeps working without renewing the Lease (default 10)")
    cluster.add_argument("--retry-period", type=float, default=2.0,
                         help="seconds between Lease renewals and takeover attempts (default 2)")
    online = parser.add_argument_group("online profiling (requests with sweep.useAiConfigurator: false)")
    online.add_argument("--online-engines", choices=("none", "kubernetes", "local-dynamo", "endpoint"), default="none",
                        help="where measured profiling runs: a Job per request on the cluster (kubernetes), a local "
                        "process (local-dynamo: Dynamo mocker engines on 127.0.0.1; endpoint: a running endpoint), or "
                        "none: such requests fail unless gitops-sla.yaml sets onlineProfiling.fallback: estimate")
    online.add_argument("--engine-option", action="append", metavar="KEY=VALUE",
                        help="an option for the engine provider, passed to `python -m profiler --engine-option`")
    online.add_argument("--online-work-dir", type=Path,
                        help="local runs' folders, by spec hash (default: ~/.cache/gitops-sla/online)")
    online.add_argument("--progress-interval", type=float, default=180.0, metavar="SECONDS",
                        help="write a long run's progress into status.yaml at most this often (default 180)")
    online.add_argument("--profiling-image",
                        help="kubernetes: the profiling Job's image (default: this project's, gitops-sla:VERSION)")
    online.add_argument("--profiling-service-account", default="gitops-sla-profiler",
                        help="kubernetes: the Job's service account (default: %(default)s)")
    online.add_argument("--trust-request-profiler-image", action="store_true",
                        help="kubernetes: run the request's spec.profilingConfig.profilerImage instead (it must "
                        "contain this project; the repository then chooses code run with the Job's permissions)")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log each step (-vv: also AI Configurator's own logging)")
    parser.set_defaults(handler=run)
