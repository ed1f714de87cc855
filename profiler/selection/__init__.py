"""Engine selection: the picks (a fine concurrency search with a safety margin, or Dynamo's rule), the Pareto
fronts and the initial replica counts. Pure: the estimator comes in as a probe function."""

from profiler.selection.choose import Candidate, DecodeProbe, EnginePick, Selection, select_engines
from profiler.selection.pareto import pareto_front
from profiler.selection.policy import SelectionPolicy
from profiler.selection.replicas import ReplicaPlan, size_replicas

__all__ = [
    "Candidate", "DecodeProbe", "EnginePick", "ReplicaPlan", "Selection", "SelectionPolicy", "pareto_front",
    "select_engines", "size_replicas",
]
