"""A disk cache of profiling outputs keyed by spec hash, shared by restarts and by replicas on one host.

The spec hash covers the request file, its base config and the profiler version, so a cached output is
exactly what profiling these inputs again would give. Entries are written to a temporary folder and
renamed into place, so a reader never sees half an entry and a crash leaves no corrupt one.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from gitops_sla.models import ResultSummary
from gitops_sla.reconcile.profiling import ProfileFn, ProfileJob, ProfileOutput

log = logging.getLogger(__name__)


class DiskCache:
    def __init__(self, root: Path):
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def _entry(self, spec_hash: str) -> Path:
        return self.root / spec_hash.removeprefix("sha256:")

    def get(self, spec_hash: str) -> ProfileOutput | None:
        entry = self._entry(spec_hash)
        try:
            meta = json.loads((entry / "meta.json").read_text())
            files = {name: (entry / "files" / name).read_bytes() for name in meta["files"]}
        except (OSError, ValueError, KeyError):
            return None
        return ProfileOutput(files=files, resources=meta["resources"], report=meta["report"],
                             summary=ResultSummary.model_validate(meta["summary"]), dgd_name=meta["dgdName"],
                             dgd_namespace=meta["dgdNamespace"], warnings=meta["warnings"])

    def put(self, spec_hash: str, output: ProfileOutput) -> None:
        entry = self._entry(spec_hash)
        if entry.exists():
            return
        staging = Path(tempfile.mkdtemp(dir=self.root, prefix=".tmp-"))
        try:
            (staging / "files").mkdir()
            for name, data in output.files.items():
                target = staging / "files" / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            meta = {"files": sorted(output.files), "resources": output.resources, "report": output.report,
                    "summary": output.summary.model_dump(mode="json"), "dgdName": output.dgd_name,
                    "dgdNamespace": output.dgd_namespace, "warnings": output.warnings}
            (staging / "meta.json").write_text(json.dumps(meta, sort_keys=True))
            try:
                os.rename(staging, entry)
            except OSError:  # another process stored it first
                pass
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def wrap(self, profile: ProfileFn) -> ProfileFn:
        """`profile`, answering from the cache when it can and filling it when it cannot (picklable when
        `profile` is: it can run in `IsolatedBackend`'s child process)."""
        return CachedProfile(self.root, profile)


@dataclass(frozen=True)
class CachedProfile:
    """A profile function with a `DiskCache` in front of it."""

    root: Path
    profile: ProfileFn

    def __call__(self, job: ProfileJob) -> ProfileOutput:
        cache = DiskCache(self.root)
        found = cache.get(job.spec_hash)
        if found is None:
            found = self.profile(job)
            try:
                cache.put(job.spec_hash, found)
            except OSError as exc:  # a full disk costs the cache entry, not the result
                log.warning("profile cache %s: could not store %s: %s", self.root, job.spec_hash, exc)
        return found
