"""A read-only view of one commit's tree: paths, blob ids and contents, straight from the object database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import pygit2

EMPTY_TREE_ID = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


@dataclass(frozen=True)
class Snapshot:
    """The tree of `commit_id` (None for a branch that does not exist yet: an empty tree)."""

    repo: pygit2.Repository
    commit_id: str | None
    tree: pygit2.Tree

    @classmethod
    def of(cls, repo: pygit2.Repository, commit_id: str | None) -> "Snapshot":
        if commit_id is None:
            return cls(repo, None, repo.get(repo.TreeBuilder().write()))
        return cls(repo, commit_id, repo.get(commit_id).peel(pygit2.Tree))

    @property
    def tree_id(self) -> str:
        return str(self.tree.id)

    def _entry(self, path: str) -> pygit2.Object | None:
        path = path.strip("/")
        if not path:
            return self.tree
        try:
            return self.tree[path]
        except KeyError:
            return None

    def blob_id(self, path: str) -> str | None:
        """The blob id (a content hash) of the file at `path`, or None when there is no file."""
        entry = self._entry(path)
        return str(entry.id) if entry is not None and entry.type == pygit2.GIT_OBJECT_BLOB else None

    def tree_id_of(self, path: str) -> str | None:
        """The tree id of the folder at `path`, or None when there is no folder."""
        entry = self._entry(path)
        return str(entry.id) if entry is not None and entry.type == pygit2.GIT_OBJECT_TREE else None

    def read(self, path: str) -> bytes | None:
        """The bytes of the file at `path`, or None when there is no file."""
        entry = self._entry(path)
        if entry is None or entry.type != pygit2.GIT_OBJECT_BLOB:
            return None
        return self.repo.get(entry.id).data

    def read_blob(self, blob_id: str) -> bytes:
        return self.repo.get(blob_id).data

    def list_dir(self, path: str) -> list[tuple[str, bool]]:
        """(name, is_folder) of the entries of folder `path`, sorted; [] when there is no folder."""
        entry = self._entry(path)
        if entry is None or entry.type != pygit2.GIT_OBJECT_TREE:
            return []
        tree = entry if isinstance(entry, pygit2.Tree) else self.repo.get(entry.id)
        return [(item.name, item.type == pygit2.GIT_OBJECT_TREE) for item in tree]

    def walk_files(self, path: str) -> Iterator[tuple[str, str]]:
        """(path, blob id) of every file under folder `path`, depth first, in tree order."""
        entry = self._entry(path)
        if entry is None or entry.type != pygit2.GIT_OBJECT_TREE:
            return
        stack = [(path.strip("/"), entry if isinstance(entry, pygit2.Tree) else self.repo.get(entry.id))]
        while stack:
            prefix, tree = stack.pop()
            for item in tree:
                child = f"{prefix}/{item.name}" if prefix else item.name
                if item.type == pygit2.GIT_OBJECT_TREE:
                    stack.append((child, self.repo.get(item.id)))
                elif item.type == pygit2.GIT_OBJECT_BLOB:
                    yield child, str(item.id)

    def commit(self) -> pygit2.Commit | None:
        return self.repo.get(self.commit_id) if self.commit_id else None
