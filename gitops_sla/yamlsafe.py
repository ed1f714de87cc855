"""Safe loading of YAML files that come from Git, with line/column positions for every key and value.

Built on PyYAML: libyaml's C parser produces the events (with marks), PyYAML's Python composer turns them into
nodes, with a hook that refuses anchors and aliases at the first anchor event (an alias bomb fails after a few
bytes, with no expansion at all) and bounds the nesting depth. Mappings are built here rather than by PyYAML's
constructor, so duplicate keys and merge keys (`<<`) are errors instead of silently overwriting. (ruamel.yaml's
round-trip loader also keeps positions, but it resolves aliases inside the library and is several times
slower; PyYAML's composer hooks are the smaller surface. Without libyaml the pure-Python parser is used.)

Rules for every file: at most 1 MiB, UTF-8 text (no NUL or other control bytes), exactly one document,
a mapping at the top level, no duplicate keys, no anchors/aliases/merge keys, no custom tags, nesting at
most 64 levels, keys are text (YAML 1.1 reads `on:` as a boolean and `1:` as a number; quote them). Every
violation is a `YamlError` with `file:line:column` (1-based).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent, CollectionStartEvent, ScalarEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from profiler.config import camel_to_snake

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 64

PathKey = tuple[str | int, ...]

_FORBIDDEN_CHARS = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class Mark:
    """A 1-based line and column in a file."""

    line: int
    column: int


class YamlError(ValueError):
    """A file that cannot be loaded safely, with the position of the problem."""

    def __init__(self, file: str, line: int, column: int, message: str) -> None:
        super().__init__(file, line, column, message)
        self.file, self.line, self.column, self.message = file, line, column, message

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


@dataclass(frozen=True)
class NodePosition:
    """Where one value sits: its key (None for the root and list items) and the value itself."""

    key: Mark | None
    value: Mark
    is_scalar: bool


@dataclass(frozen=True)
class LoadedYaml:
    """A loaded document: plain Python data plus the position of every key/value, keyed by field path."""

    file: str
    data: dict[str, Any]
    positions: dict[PathKey, NodePosition] = field(repr=False)

    def resolve(self, path: Iterable[str | int]) -> tuple[PathKey, int]:
        """The path as spelled in the file (a camelCase/snake_case variant of a key matches) and how many of
        its leading components exist in the file."""
        resolved: list[str | int] = []
        node: Any = self.data
        found = 0
        for part in path:
            actual = _find_key(node, part)
            if actual is _MISSING:
                resolved.append(part)
                node = _MISSING
                continue
            resolved.append(actual)
            node = node[actual]
            if len(resolved) == found + 1:
                found += 1
        return tuple(resolved), found

    def locate(self, path: Iterable[str | int]) -> Mark:
        """Where a field path points: the value of a scalar, the key of a mapping or list; for a path that is
        not in the file, the deepest part of it that is."""
        resolved, found = self.resolve(path)
        if found < len(resolved):
            position = self.positions.get(resolved[:found]) or self.positions[()]
            return position.key or position.value
        position = self.positions.get(resolved) or self.positions[()]
        if position.is_scalar or position.key is None:
            return position.value
        return position.key

    def locate_key(self, path: Iterable[str | int]) -> Mark:
        """Where the key of a field path sits (falls back like `locate`)."""
        resolved, found = self.resolve(path)
        position = self.positions.get(resolved[:found]) or self.positions[()]
        return position.key or position.value


_MISSING = object()


@lru_cache(maxsize=4096)
def snake_case(key: str) -> str:
    """`profiler.config.camel_to_snake`, cached: the spelling-independent form of a key."""
    return camel_to_snake(key)


def _find_key(node: Any, part: str | int) -> Any:
    if isinstance(node, dict):
        if part in node:
            return part
        if isinstance(part, str):
            wanted = snake_case(part)
            for key in node:
                if isinstance(key, str) and snake_case(key) == wanted:
                    return key
        return _MISSING
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return part
    return _MISSING


def _mark(mark: yaml.Mark) -> Mark:
    return Mark(mark.line + 1, mark.column + 1)


if yaml.__with_libyaml__:
    from yaml._yaml import CParser as _EventParser  # libyaml's event parser: about ten times faster
else:  # pragma: no cover - PyYAML built without libyaml

    class _EventParser(Reader, Scanner, Parser):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)


class _StrictLoader(Composer, _EventParser, SafeConstructor, Resolver):
    """Composer over the event parser, with anchors, aliases and deep nesting refused while composing."""

    def __init__(self, stream: str, file: str) -> None:
        _EventParser.__init__(self, stream)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self.file = file
        self.depth = 0

    def _fail(self, mark: yaml.Mark, message: str) -> YamlError:
        return YamlError(self.file, mark.line + 1, mark.column + 1, message)

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            raise self._fail(event.start_mark, f"alias '*{event.anchor}' is not allowed; write the value out in full")
        if isinstance(event, (ScalarEvent, CollectionStartEvent)) and event.anchor is not None:
            raise self._fail(event.start_mark, f"anchor '&{event.anchor}' is not allowed; write values out in full")
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self._fail(event.start_mark, f"nesting deeper than {MAX_DEPTH} levels")
        try:
            return Composer.compose_node(self, parent, index)
        finally:
            self.depth -= 1


def _check_text(raw: bytes, file: str) -> str:
    if len(raw) > MAX_BYTES:
        raise YamlError(file, 1, 1, f"file is {len(raw)} bytes, more than the limit of {MAX_BYTES} bytes (1 MiB)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _line_column(raw[: exc.start].decode("utf-8", errors="replace"))
        raise YamlError(
            file, line, column, f"not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as UTF-8"
        ) from None
    text = text.removeprefix("\ufeff")
    bad = _FORBIDDEN_CHARS.search(text)
    if bad:
        line, column = _line_column(text[: bad.start()])
        raise YamlError(
            file, line, column,
            f"binary or control character U+{ord(bad.group()):04X}; a YAML file must be printable UTF-8 text",
        )
    return text


def _line_column(prefix: str) -> tuple[int, int]:
    line = prefix.count("\n") + 1
    return line, len(prefix) - (prefix.rfind("\n") + 1) + 1


def _kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return "a single value"


_COLLECTION_TAGS = {MappingNode: "tag:yaml.org,2002:map", SequenceNode: "tag:yaml.org,2002:seq"}


class _Builder:
    """Builds plain data from a composed node tree, recording positions; duplicate and merge keys are errors."""

    def __init__(self, loader: _StrictLoader) -> None:
        self.loader = loader
        self.positions: dict[PathKey, NodePosition] = {}

    def build(self, node: Node, path: PathKey, key_mark: Mark | None) -> Any:
        self.positions[path] = NodePosition(key_mark, _mark(node.start_mark), isinstance(node, ScalarNode))
        expected_tag = _COLLECTION_TAGS.get(type(node))
        if expected_tag is not None and node.tag != expected_tag:
            raise self.loader._fail(node.start_mark, f"tag '{node.tag}' is not allowed; custom YAML tags are not allowed")
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            return [self.build(item, path + (index,), None) for index, item in enumerate(node.value)]
        return self._scalar(node)

    def _scalar(self, node: Node) -> Any:
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or node.start_mark
            raise self.loader._fail(mark, f"{exc.problem}; custom YAML tags are not allowed") from None

    def _mapping(self, node: MappingNode, path: PathKey) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise self.loader._fail(key_node.start_mark, "merge keys ('<<') are not allowed; write the keys out")
            if not isinstance(key_node, ScalarNode):
                raise self.loader._fail(key_node.start_mark, f"a key must be a plain value, not {_kind(key_node)}")
            key = self._scalar(key_node)
            if not isinstance(key, str):
                raise self.loader._fail(
                    key_node.start_mark,
                    f"key {key_node.value!r} is read as {type(key).__name__}, not text; put it in quotes",
                )
            if key in result:
                first = self.positions[path + (key,)].key
                where = f" (first at line {first.line})" if first else ""
                raise self.loader._fail(key_node.start_mark, f"duplicate key '{key}'{where}; keep one of them")
            result[key] = self.build(value_node, path + (key,), _mark(key_node.start_mark))
        return result


def load_yaml(source: bytes | str, file: str = "<input>") -> LoadedYaml:
    """Load one YAML document whose top level is a mapping, under the rules in the module docstring."""
    raw = source.encode("utf-8") if isinstance(source, str) else source
    text = _check_text(raw, file)
    loader = _StrictLoader(text, file)
    try:
        try:
            root = loader.get_single_node()
        except yaml.composer.ComposerError as exc:
            if exc.problem == "but found another document" and exc.problem_mark is not None:
                raise loader._fail(
                    exc.problem_mark, "a second YAML document starts here; the file must hold exactly one document"
                ) from None
            raise
        if root is None:
            raise YamlError(file, 1, 1, "the file holds no YAML document; it must hold one mapping")
        if not isinstance(root, MappingNode):
            raise loader._fail(root.start_mark, f"the top level must be a mapping (key: value), not {_kind(root)}")
        builder = _Builder(loader)
        data = builder.build(root, (), None)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or "invalid YAML"
        context = f" ({exc.context})" if exc.context else ""
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise YamlError(file, line, column, f"invalid YAML: {problem}{context}") from None
    except yaml.YAMLError as exc:
        raise YamlError(file, 1, 1, f"invalid YAML: {exc}") from None
    except RecursionError:
        raise YamlError(file, 1, 1, f"nesting deeper than {MAX_DEPTH} levels") from None
    finally:
        if hasattr(loader, "dispose"):
            loader.dispose()
    return LoadedYaml(file=file, data=data, positions=builder.positions)


def load_yaml_file(path: str | Path, display_name: str | None = None) -> LoadedYaml:
    """Read and load a file; the size limit is checked before reading it whole."""
    file_path = Path(path)
    name = display_name or str(path)
    try:
        size = file_path.stat().st_size
        if size > MAX_BYTES:
            raise YamlError(name, 1, 1, f"file is {size} bytes, more than the limit of {MAX_BYTES} bytes (1 MiB)")
        raw = file_path.read_bytes()
    except OSError as exc:
        raise YamlError(name, 1, 1, f"cannot read the file: {exc.strerror or exc}") from None
    return load_yaml(raw, name)


class _DeterministicDumper(yaml.SafeDumper):
    """Block style, no aliases, multi-line strings as `|` blocks."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_DeterministicDumper.add_representer(str, _represent_str)


def dump_yaml(data: Any) -> str:
    """One YAML style for every file this project writes: block style, keys in the given order, UTF-8, no
    aliases, no line folding."""
    return yaml.dump(
        data, Dumper=_DeterministicDumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=4096
    )
