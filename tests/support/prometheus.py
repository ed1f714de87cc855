"""A real Prometheus (Debian's package) on 127.0.0.1 for tests: temp TSDB, preloaded history, live scraping.

History is written as OpenMetrics text and turned into TSDB blocks with `promtool tsdb create-blocks-from
openmetrics` before the server starts; live targets (e.g. a prometheus_client exporter on 127.0.0.1) are
scraped every second. The server listens on a free port and is stopped (by its own PID) when the context ends.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import httpx


class PrometheusNotInstalled(RuntimeError):
    """`prometheus`/`promtool` are missing; `./scripts/run-tests` installs them (apt-get install prometheus)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Series:
    """One time series for backfilling: `name{labels}` with (unix seconds, value) samples."""

    name: str
    labels: dict[str, str]
    samples: list[tuple[float, float]]
    kind: str = "counter"


def openmetrics_text(series: Sequence[Series]) -> str:
    """OpenMetrics text with every sample of a series together, ending in `# EOF` (what promtool wants).

    Counter series must be given with their `_total` name; the family is declared without the suffix."""
    by_family: dict[str, list[Series]] = {}
    for item in series:
        family = item.name.removesuffix("_total") if item.kind == "counter" else item.name
        by_family.setdefault(family, []).append(item)
    lines: list[str] = []
    for family, members in by_family.items():
        lines.append(f"# TYPE {family} {members[0].kind}")
        for item in members:
            labels = ",".join(f'{key}="{value}"' for key, value in sorted(item.labels.items()))
            selector = f"{{{labels}}}" if labels else ""
            lines.extend(f"{item.name}{selector} {value:.17g} {stamp:.3f}" for stamp, value in item.samples)
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


@dataclass
class PrometheusServer:
    """A running Prometheus; `url` is `http://127.0.0.1:<port>`."""

    url: str
    process: subprocess.Popen
    directory: Path
    log_lines: list[str] = field(default_factory=list)

    def query(self, expr: str, at: float | None = None) -> list[dict]:
        params: dict[str, str | float] = {"query": expr}
        if at is not None:
            params["time"] = at
        body = httpx.get(f"{self.url}/api/v1/query", params=params, timeout=10).json()
        assert body["status"] == "success", body
        return body["data"]["result"]

    def wait_for(self, expr: str, timeout_s: float = 30.0) -> list[dict]:
        """Poll until `expr` returns data (the first scrape comes after about 6 s in Prometheus 2.42)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            result = self.query(expr)
            if result:
                return result
            time.sleep(0.25)
        targets = httpx.get(f"{self.url}/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
        health = [(t["scrapeUrl"], t["health"], t["lastError"]) for t in targets]
        raise TimeoutError(f"no data for {expr!r} after {timeout_s} s; targets: {health}; log: {self.log()[-1000:]}")

    def log(self) -> str:
        return (self.directory / "prometheus.log").read_text(errors="replace")


def _require_binaries() -> None:
    missing = [name for name in ("prometheus", "promtool") if shutil.which(name) is None]
    if missing:
        raise PrometheusNotInstalled(f"{', '.join(missing)} not found: apt-get install -y --no-install-recommends "
                                     "prometheus (./scripts/run-tests does it)")


@contextlib.contextmanager
def run_prometheus(history: Sequence[Series] = (), scrape_targets: Sequence[str] = (),
                   scrape_interval: str = "1s", target_labels: dict[str, str] | None = None
                   ) -> Iterator[PrometheusServer]:
    """Start Prometheus on 127.0.0.1 with `history` backfilled and `scrape_targets` (host:port) scraped, their
    series labelled with `target_labels` (as a cluster's PodMonitor relabelling adds `dynamo_namespace`)."""
    _require_binaries()
    with tempfile.TemporaryDirectory(prefix="prometheus-") as temp:
        directory = Path(temp)
        tsdb = directory / "tsdb"
        tsdb.mkdir()
        if history:
            source = directory / "history.om"
            source.write_text(openmetrics_text(history))
            subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", str(source), str(tsdb)],
                           check=True, capture_output=True, timeout=60)
        scrape = ""
        if scrape_targets:
            targets = ", ".join(f"'{target}'" for target in scrape_targets)
            labels = ", ".join(f"{name}: '{value}'" for name, value in (target_labels or {}).items())
            scrape = (f"scrape_configs:\n  - job_name: frontend\n    static_configs: [{{targets: [{targets}], "
                      f"labels: {{{labels}}}}}]\n")
        config = directory / "prometheus.yml"
        config.write_text(f"global: {{scrape_interval: {scrape_interval}, evaluation_interval: 1s}}\n{scrape}")
        port = free_port()
        log_file = (directory / "prometheus.log").open("w")
        process = subprocess.Popen(
            ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tsdb}",
             f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=3650d"],
            stdout=log_file, stderr=subprocess.STDOUT)
        server = PrometheusServer(f"http://127.0.0.1:{port}", process, directory)
        try:
            deadline = time.monotonic() + 30
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"prometheus exited with {process.returncode}: {server.log()[-2000:]}")
                try:
                    if httpx.get(f"{server.url}/-/ready", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"prometheus not ready after 30 s: {server.log()[-2000:]}")
                time.sleep(0.05)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log_file.close()
