"""Estimate with AI Configurator: the offline half of the profiler (resolve the target, sweep the candidate
mappings through AI Configurator's in-process estimators). The measured half lives in `profiler.measure`."""
