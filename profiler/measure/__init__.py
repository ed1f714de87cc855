"""The measured half of the profiler: AIPerf against engines from an engine provider (`profiler.engines`)."""
