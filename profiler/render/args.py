"""Command-line argument lists of DGD containers: find, set and remove flags (Dynamo's `config.py` helpers).

Arguments stay one list element each; a single string of arguments is split the way a shell would.
New flags go before a `|` or `2>&1` when the list pipes its output, as Dynamo's `append_argument` does.
"""

from __future__ import annotations

import shlex
from typing import Any


def as_list(args: Any) -> list[str]:
    """Container args as a list of strings."""
    if args is None:
        return []
    if isinstance(args, str):
        return shlex.split(args)
    return [str(arg) for arg in args]


def _insert_at(args: list[str]) -> int:
    positions = [args.index(stop) for stop in ("|", "2>&1") if stop in args]
    return min(positions, default=len(args))


def append(args: list[str], *items: str) -> list[str]:
    index = _insert_at(args)
    return args[:index] + list(items) + args[index:]


def get_value(args: list[str], flag: str) -> str | None:
    for index, arg in enumerate(args):
        if arg == flag and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(f"{flag}="):
            return arg.split("=", 1)[1]
    return None


def set_value(args: list[str], flag: str, value: str) -> list[str]:
    """`flag value`, replacing an existing value (in either `--f v` or `--f=v` form) in place."""
    result = list(args)
    for index, arg in enumerate(result):
        if arg == flag and index + 1 < len(result):
            result[index + 1] = value
            return result
        if arg.startswith(f"{flag}="):
            result[index] = f"{flag}={value}"
            return result
    return append(result, flag, value)


def set_switch(args: list[str], flag: str) -> list[str]:
    """A bare `flag`, added once."""
    return args if flag in args else append(args, flag)


def remove_switch(args: list[str], flag: str) -> list[str]:
    return [arg for arg in args if arg != flag]


def remove_valued(args: list[str], flag: str) -> list[str]:
    """Drop `flag value` and `flag=value`."""
    result: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg == flag:
            skip = True
            continue
        if arg.startswith(f"{flag}="):
            continue
        result.append(arg)
    return result
