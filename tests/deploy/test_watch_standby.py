"""`WatchLoop` with leader election: a standby runs no pass but stays healthy and says so on /healthz; when it
starts leading, its first pass checks every request."""

from __future__ import annotations

import threading
import time

import httpx

from deploy_support import wait_for
from reconcile_support import cached_reconciler

from gitops_sla.server import WatchLoop


def test_a_standby_waits_healthy_and_works_once_it_leads(remote, tmp_path, profile_cache):
    reconciler = cached_reconciler(remote, tmp_path / "cache", profile_cache)
    leading = threading.Event()
    loop = WatchLoop(reconciler, interval_s=0.2, leader=leading.is_set)
    host, port = loop.listen("127.0.0.1", 0)
    reports = []
    worker = threading.Thread(target=loop.run, kwargs={"on_report": reports.append}, daemon=True)
    worker.start()
    try:
        base = f"http://{host}:{port}"
        wait_for(lambda: loop.last_pass_at is not None, "the standby's first wait")
        health = httpx.get(f"{base}/healthz")
        assert health.status_code == 200 and health.json()["leader"] is False
        time.sleep(0.5)  # several intervals as a standby (no timing is asserted: only that nothing ran)
        assert reports == []
        leading.set()
        loop.trigger()
        wait_for(lambda: reports, "the first pass as leader")
        assert reports[0].error is None and not reports[0].idle  # a full pass, not the idle shortcut
        assert httpx.get(f"{base}/healthz").json()["leader"] is True
    finally:
        loop.stop()
        worker.join(timeout=10)
