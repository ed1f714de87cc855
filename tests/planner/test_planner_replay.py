"""`python -m planner.replay` against Dynamo 1.6.1's own simulator (its venv, built by scripts/setup-dynamo-venv).

The trace is small and synthetic (a quiet minute, a busy minute, a quiet minute; 8,000-token prompts sharing prefixes) and the
profile is the hand-computable one of tests/planner/planner_profiles.py, so a replay takes seconds.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from planner.replay.traces import TraceError, read_trace, scale_rate, write_mooncake

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def dynamo_python():
    """Dynamo's venv python: $GITOPS_SLA_DYNAMO_PYTHON (scripts/run-tests exports it), else built (or found)
    by scripts/setup-dynamo-venv, which is idempotent."""
    given = os.environ.get("GITOPS_SLA_DYNAMO_PYTHON")
    if given and Path(given).is_file():
        return given
    done = subprocess.run([str(ROOT / "scripts" / "setup-dynamo-venv")], capture_output=True, text=True,
                          timeout=1800)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


def busy_minute_trace(path: Path) -> Path:
    rows = []
    for second in range(180):
        per_second = 16 if 60 <= second < 120 else 1  # busy: two prefill replicas even after the shared prefix
        for k in range(per_second):
            group = (second * per_second + k) % 3  # three shared system prompts of 4 blocks, then 12 own blocks
            own = 10_000 + (second * 20 + k) * 12
            rows.append({"timestamp": second * 1000 + k * 60, "input_length": 8000, "output_length": 20,
                         "hash_ids": [group * 100 + b for b in range(4)] + list(range(own, own + 12))})
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def replay(dynamo_python, *args, cwd):
    return subprocess.run([sys.executable, "-m", "planner.replay", "--dynamo-python", dynamo_python, *args],
                          capture_output=True, text=True, timeout=600, cwd=cwd,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))


@pytest.mark.slow
def test_replay_reports_each_policy_from_dynamos_simulator(dynamo_python, npz_profile, tmp_path):
    trace = busy_minute_trace(tmp_path / "trace.jsonl")
    done = replay(dynamo_python, "--trace", str(trace), "--profile", str(npz_profile), "--policy", "oracle",
                  "--policy", "dynamo", "--policy", "static-peak", "--adjustment-interval", "20",
                  "--startup-delay", "30", "--ttft", "200", "--itl", "25", "--trace-block-size", "512",
                  "--json", "--plot", str(tmp_path / "plot.png"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    results = {r["policy"]: r for r in map(json.loads, done.stdout.splitlines())}
    assert list(results) == ["oracle", "dynamo", "static-peak"]
    for result in results.values():
        assert result["requests"] == 1080
        assert 0.0 <= result["attainment"] <= min(result["ttft_attainment"], result["itl_attainment"]) <= 1.0
        assert result["gpu_hours"] > 0
    # the oracle adds replicas for the busy minute and removes them after: actions, and replicas starting first
    oracle = results["oracle"]
    assert oracle["scaling_actions"] >= 2
    assert any(point["prefill_starting"] > 0 for point in oracle["timeline"])
    assert max(p["prefill"] for p in oracle["timeline"]) > min(p["prefill"] for p in oracle["timeline"])
    # holding the peak all along costs more than following the load
    assert results["static-peak"]["gpu_hours"] > oracle["gpu_hours"]
    assert results["static-peak"]["scaling_actions"] == 0
    assert (tmp_path / "plot.png").stat().st_size > 0


def test_missing_simulator_says_how_to_set_it_up(npz_profile, tmp_path):
    trace = busy_minute_trace(tmp_path / "trace.jsonl")
    done = replay(str(tmp_path / "no-venv" / "bin" / "python"), "--trace", str(trace), "--profile",
                  str(npz_profile), cwd=tmp_path)
    assert done.returncode == 2
    assert "scripts/setup-dynamo-venv" in done.stderr and "no-venv" in done.stderr


def test_azure_csv_and_rate_scale(tmp_path):
    csv_path = tmp_path / "azure.csv"
    csv_path.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6805900,1030,44\n"
                        "2023-11-16 18:15:50.9951690,396,0\n")
    requests = read_trace(csv_path)
    assert [(r.arrival_ms, r.isl, r.osl, len(r.hash_ids)) for r in requests] == [
        (0.0, 1030, 44, 3), (pytest.approx(4314.579), 396, 1, 1)]
    tripled = scale_rate(requests, 3.0)
    assert len(tripled) == 6 and len({h for r in tripled for h in r.hash_ids}) == 12  # copies share no prefix
    out = write_mooncake(tripled, tmp_path / "out.jsonl")
    assert read_trace(out)[1].isl == 1030


def test_bad_trace_names_file_line_and_field(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"timestamp": 0, "input_length": 10, "output_length": 5}\n{"timestamp": 5, "output_length": 5}\n')
    with pytest.raises(TraceError, match=r"bad.jsonl, line 2: field 'input_length' is missing"):
        read_trace(bad)


def test_oracle_counts_the_prefix_reuse_a_perfect_cache_would_serve():
    from planner.replay.policies import ideal_hit_rates
    from planner.replay.traces import Request

    requests = [Request(0.0, 384, 10, (1, 2, 3)), Request(1000.0, 384, 10, (1, 2, 9)),
                Request(61_000.0, 200, 10, (1, 4)), Request(62_000.0, 256, 10, (7, 2))]
    # interval 0: the second prompt repeats 2 of the first's 128-token blocks (256 of 768 tokens); interval 1: one
    # block, capped at the prompt (128 of 200), and a shared block after a new one is no prefix (0 of 256)
    assert ideal_hit_rates(requests, 60, 128) == [pytest.approx(256 / 768), pytest.approx(128 / 456)]


def test_synthetic_multiturn_trace_repeats_the_conversation_so_far(monkeypatch):
    import importlib.util

    from planner.replay.traces import Request

    spec = importlib.util.spec_from_file_location("multiturn_trace", ROOT / "benchmarks" / "multiturn_trace.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    block = module.BLOCK_TOKENS
    first = Request(0.0, 3 * block + 5, 2 * block, ())
    follow_up = Request(60_000.0, 8 * block, 10, ())
    out, share = module.multiturn([first, follow_up], seed=1)
    # the follow-up arrives within the window and is longer than the first turn's context (5 blocks + 5 tokens):
    # with CONTINUE_SHARE 0.8 and this seed it continues it, repeating the first prompt's 3 full blocks and the
    # output's 2 (the partial block across the turn boundary is new)
    assert out[1].hash_ids[:5] == out[0].hash_ids[:3] + out[1].hash_ids[3:5]
    assert len(set(out[1].hash_ids[:5]) & set(out[0].hash_ids)) == 3
    assert share == pytest.approx(5 * block / (first.isl + follow_up.isl))
    assert module.multiturn([first, follow_up], seed=1) == (out, share)  # deterministic


@pytest.mark.slow
def test_prefix_cache_discount_reads_the_simulators_hit_rate(dynamo_python, npz_profile, tmp_path):
    """A quarter of each prompt is a shared system prompt: the simulator's KV router reports the hit rate, and our
    policy with --prefix-cache-discount sizes prefill for the rest: in the busy minute 128,000 prompt tokens/s
    need 3 prefill replicas at 70 % of the profile's 79,400 tokens/s at ISL 8000, the uncached 95,200 need 2."""
    trace = busy_minute_trace(tmp_path / "trace.jsonl")
    runs = {}
    for extra in ((), ("--prefix-cache-discount",)):
        done = replay(dynamo_python, "--trace", str(trace), "--profile", str(npz_profile), "--policy", "ours-constant",
                      "--adjustment-interval", "20", "--startup-delay", "30", "--ttft", "200", "--itl", "25",
                      "--prefill-utilization", "0.7", "--json", "--plot", "", *extra, cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
        runs[bool(extra)] = json.loads(done.stdout)
    assert runs[True]["gpu_hours"] < runs[False]["gpu_hours"], runs
