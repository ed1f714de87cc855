"""`python -m planner.replay`: judge scaling policies on a request trace in Dynamo's own serving simulator.

The simulation runs in Dynamo's virtualenv (`simulator.py`, `driver.py`); the policies (`policies.py`) run here,
in the project's environment. See docs/planner.md, "Replaying your traffic".
"""
