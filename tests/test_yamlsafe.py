"""The safe YAML loader: positions, and every refusal with its line and column."""

from __future__ import annotations

import datetime
import tracemalloc

import pytest

from gitops_sla.yamlsafe import MAX_BYTES, Mark, YamlError, dump_yaml, load_yaml, load_yaml_file

DOC = """\
# comment
apiVersion: v1
spec:
  profilingConfig:
    config:
      sla:
        ttft: 200.0
        isl: 3000
  list:
    - a
    - b: 1
"""


def _error(source: str | bytes) -> YamlError:
    with pytest.raises(YamlError) as info:
        load_yaml(source, "f.yaml")
    return info.value


def test_loads_plain_data() -> None:
    doc = load_yaml(DOC, "f.yaml")
    assert doc.data == {
        "apiVersion": "v1",
        "spec": {"profilingConfig": {"config": {"sla": {"ttft": 200.0, "isl": 3000}}}, "list": ["a", {"b": 1}]},
    }


def test_positions_of_scalars_mappings_and_list_items() -> None:
    doc = load_yaml(DOC, "f.yaml")
    assert doc.locate(("spec", "profilingConfig", "config", "sla", "ttft")) == Mark(7, 15)
    assert doc.locate_key(("spec", "profilingConfig", "config", "sla", "ttft")) == Mark(7, 9)
    assert doc.locate(("spec", "profilingConfig")) == Mark(4, 3)
    assert doc.locate(("spec", "list", 1, "b")) == Mark(11, 10)
    assert doc.locate(("spec", "list", 0)) == Mark(10, 7)


def test_missing_paths_point_at_the_deepest_existing_key() -> None:
    doc = load_yaml(DOC, "f.yaml")
    assert doc.locate(("spec", "profilingConfig", "profilerImage")) == Mark(4, 3)
    assert doc.locate(("nothing", "here")) == Mark(2, 1)


def test_camel_and_snake_spellings_resolve_to_the_key_in_the_file() -> None:
    doc = load_yaml("sweep:\n  use_ai_configurator: true\n", "f.yaml")
    assert doc.resolve(("sweep", "useAiConfigurator")) == (("sweep", "use_ai_configurator"), 2)
    assert doc.locate(("sweep", "useAiConfigurator")) == Mark(2, 24)


@pytest.mark.parametrize(
    ("source", "line", "column", "message"),
    [
        ("a: 1\nb: 2\na: 3\n", 3, 1, "duplicate key 'a' (first at line 1)"),
        ("a:\n  b: 1\n  b: 2\n", 3, 3, "duplicate key 'b'"),
        ("a: &x 1\nb: *x\n", 1, 4, "anchor '&x' is not allowed"),
        ("a: *x\n", 1, 4, "alias '*x' is not allowed"),
        ("a:\n  <<: {b: 1}\n", 2, 3, "merge keys"),
        ("- 1\n- 2\n", 1, 1, "top level must be a mapping"),
        ("hello\n", 1, 1, "top level must be a mapping"),
        ("", 1, 1, "holds no YAML document"),
        ("# only a comment\n", 1, 1, "holds no YAML document"),
        ("a: 1\n---\nb: 2\n", 2, 1, "second YAML document"),
        ("a: 1\n---\n", 2, 1, "second YAML document"),
        ("a: !custom 1\n", 1, 4, "custom YAML tags"),
        ("a: !!python/object/apply:os.system [id]\n", 1, 4, "custom YAML tags"),
        ("a: !!python/name:os.system\n", 1, 4, "custom YAML tags"),
        ("a: !!set {x}\n", 1, 4, "custom YAML tags"),
        ("? [a]\n: 1\n", 1, 3, "a key must be a plain value"),
        ("labels:\n  on: x\n", 2, 3, "key 'on' is read as bool, not text; put it in quotes"),
        ("1: x\n", 1, 1, "key '1' is read as int"),
        ("~: x\n", 1, 1, "key '~' is read as NoneType"),
        ("a: b: c\n", 1, 5, "mapping values are not allowed"),
        ("a:\n\tb: 1\n", 2, 1, "invalid YAML"),
        ("a: 'open\n", 2, 1, "invalid YAML"),
        ("a: " + "[" * 70 + "]" * 70 + "\n", 1, 67, "nesting deeper than 64"),
    ],
)
def test_refusals_are_located(source: str, line: int, column: int, message: str) -> None:
    error = _error(source)
    assert (error.file, error.line, error.column) == ("f.yaml", line, column)
    assert message in error.message
    assert str(error).startswith(f"f.yaml:{line}:{column}: ")


@pytest.mark.parametrize(
    ("raw", "line", "column", "message"),
    [
        (b"a: 1\nb: \xff\n", 2, 4, "not UTF-8 text (byte 0xff)"),
        (b"a: caf\xc3\n", 1, 7, "not UTF-8"),
        (b"a: 1\nb: x\x00y\n", 2, 5, "U+0000"),
        (b"a: \x1b[31m\n", 1, 4, "U+001B"),
        (b"\xff\xfea\x00:\x00", 1, 1, "not UTF-8"),
        (b"\x1f\x8b\x08\x00junk", 1, 2, "not UTF-8 text (byte 0x8b)"),
        (b"a: \x1fjunk\n", 1, 4, "U+001F"),
    ],
)
def test_binary_and_non_utf8_are_refused(raw: bytes, line: int, column: int, message: str) -> None:
    error = _error(raw)
    assert (error.line, error.column) == (line, column)
    assert message in error.message


def test_quoted_keys_are_text() -> None:
    assert load_yaml("'on': x\n\"1\": y\n", "f.yaml").data == {"on": "x", "1": "y"}


def test_utf8_bom_and_unicode_text_are_accepted() -> None:
    assert load_yaml("\ufeffname: café ✓\n".encode(), "f.yaml").data == {"name": "café ✓"}


def test_size_limit() -> None:
    assert "more than the limit" in _error(b"a: 1\n" + b"#" * MAX_BYTES).message
    load_yaml(b"a: 1\n" + b"#" * (MAX_BYTES - 10), "f.yaml")


def test_size_limit_is_checked_before_reading(tmp_path) -> None:
    path = tmp_path / "big.yaml"
    with path.open("wb") as handle:
        handle.truncate(50 * MAX_BYTES)
    with pytest.raises(YamlError) as info:
        load_yaml_file(path, "big.yaml")
    assert info.value.message.startswith(f"file is {50 * MAX_BYTES} bytes")


def test_unreadable_file(tmp_path) -> None:
    with pytest.raises(YamlError) as info:
        load_yaml_file(tmp_path / "missing.yaml")
    assert "cannot read the file" in info.value.message


def test_alias_bomb_fails_at_the_first_anchor_with_little_memory() -> None:
    lines = ['a0: &a0 "lol"'] + [
        f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 30)
    ]
    source = "\n".join(lines) + "\n"
    tracemalloc.start()
    error = _error(source)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert (error.line, error.column) == (1, 5)
    assert peak < 5 * 1024 * 1024


def test_scalars_keep_yaml_types() -> None:
    data = load_yaml("i: 1\nf: 1.5\nb: true\nn: null\ns: '1'\nd: 2024-01-02\n", "f.yaml").data
    assert data == {"i": 1, "f": 1.5, "b": True, "n": None, "s": "1", "d": datetime.date(2024, 1, 2)}


def test_dump_is_deterministic_block_style_without_aliases() -> None:
    shared = {"x": 1}
    data = {"z": shared, "a": shared, "text": "line 1\nline 2\n", "unicode": "é"}
    text = dump_yaml(data)
    assert text == dump_yaml(data)
    assert "&" not in text and "*" not in text
    assert text.splitlines()[0] == "z:"
    assert "text: |\n  line 1\n  line 2\n" in text
    assert "unicode: é" in text
    assert load_yaml(text, "f.yaml").data == data
