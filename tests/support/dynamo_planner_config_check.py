"""Run with Dynamo 1.6.1's python: validate planner configs (JSON files given as arguments) with Dynamo's own
`PlannerConfig`, print one JSON line per file: {"file", "ok", "error", "config"} (`config`: the validated
model dumped, so tests can see what Dynamo's planner reads).

`dynamo/planner/__init__.py` imports aisimulate, which the test venv lacks: an empty package module with the
package's path stands in for it, so `dynamo.planner.config.planner_config` imports on its own."""

import json
import pathlib
import sys
import types

import dynamo

package = types.ModuleType("dynamo.planner")
package.__path__ = [str(pathlib.Path(dynamo.__path__[0]) / "planner")]
sys.modules["dynamo.planner"] = package

from dynamo.planner.config.planner_config import PlannerConfig  # noqa: E402

for name in sys.argv[1:]:
    try:
        config = PlannerConfig.model_validate(json.loads(pathlib.Path(name).read_text()))
        print(json.dumps({"file": name, "ok": True, "config": json.loads(config.model_dump_json())}))
    except Exception as error:  # noqa: BLE001 - report any refusal
        print(json.dumps({"file": name, "ok": False, "error": str(error)}))
