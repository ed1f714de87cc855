"""Run with Dynamo 1.6.1's python: print the fields of Dynamo's `PlannerConfig` as
`profiler/vendor/dynamo/planner_config_1.6.1.json` holds them (kind, nullable, choices, aliases).

    $(scripts/setup-dynamo-venv) tests/support/dynamo_planner_config_fields.py > profiler/vendor/dynamo/planner_config_1.6.1.json

`dynamo/planner/__init__.py` imports aisimulate (not installable here): an empty package module stands in."""
import sys, types, json, pathlib, typing, enum
import dynamo
pkg = types.ModuleType("dynamo.planner"); pkg.__path__=[str(pathlib.Path(dynamo.__path__[0])/"planner")]
sys.modules["dynamo.planner"]=pkg
from dynamo.planner.config.planner_config import PlannerConfig
from pydantic import AliasChoices
out = {}
def kind(ann):
    args = [a for a in typing.get_args(ann) if a is not type(None)] if typing.get_origin(ann) in (typing.Union, getattr(__import__('types'),'UnionType',None)) else [ann]
    a = args[0]
    o = typing.get_origin(a)
    if o is typing.Literal: return "str", [str(x) for x in typing.get_args(a)]
    if isinstance(a, type) and issubclass(a, enum.Enum): return "str", [m.value for m in a]
    if a is bool: return "bool", None
    if a is int: return "int", None
    if a is float: return "float", None
    if a is str: return "str", None
    if o is dict or a is dict: return "object", None
    return "object", None
for n, f in PlannerConfig.model_fields.items():
    k, ch = kind(f.annotation)
    aliases = [c for c in f.validation_alias.choices if c != n] if isinstance(f.validation_alias, AliasChoices) else []
    e = {"kind": k}
    if ch: e["choices"] = ch
    if aliases: e["aliases"] = aliases
    e["nullable"] = type(None) in typing.get_args(f.annotation)
    out[n] = e
print(json.dumps(out, indent=1, sort_keys=True))
