"""The measurement plan with an AI Configurator prior: only mappings that could win are deployed, calibration
moves the estimates, and Dynamo's counting for the benchmark."""

from __future__ import annotations

from profiler.config import ProfileConfig
from profiler.estimate.sweep import DecodePoint, PrefillPoint, SweepResult
from profiler.measure.fit import fit
from profiler.measure.sweep import MappingMeasurement, Targets, _Sweep, _estimated_candidates, next_decode_concurrency
from profiler.search_space import ParallelMapping

TP = {n: ParallelMapping("TP", n) for n in (1, 2, 4, 8)}
SLA = ProfileConfig.model_validate({"sla": {"isl": 3000, "osl": 150, "ttft": 200, "itl": 20}}).sla


def _prior() -> SweepResult:
    prior = SweepResult()
    # TTFT 300/150/80/60 ms: TP=2 wins (meets 200 ms, best tokens/s/GPU); TP=4 is within 25 % of its throughput.
    for n, ttft in ((1, 300.0), (2, 150.0), (4, 80.0), (8, 60.0)):
        prior.prefill.append(PrefillPoint(TP[n], ttft, 3000 / ttft / n * 1000))
    # Decode: TP=1 reaches 120 tokens/s/GPU within 20 ms; TP=2 100; TP=4 60 and TP=8 30 cannot win.
    for n, thpt in ((1, 120.0), (2, 100.0), (4, 60.0), (8, 30.0)):
        prior.decode.append(DecodePoint(TP[n], 4, 15.0, thpt, 100_000))
        prior.decode.append(DecodePoint(TP[n], 8, 25.0, thpt * 1.5, 100_000))
    return prior


def test_only_mappings_that_could_win_are_planned():
    prefill, decode = _estimated_candidates(_prior(), SLA)
    assert prefill == [TP[2], TP[4]]  # 10k vs 9.4k tokens/s/GPU: within 25 %; TP=1 misses TTFT; TP=8 6.3k cannot win
    assert decode == [TP[1], TP[2]]


def test_calibration_moves_the_candidates():
    # Engines measured 1.5x slower than estimated: TP=2's 225 ms misses 200 ms, so TP=4 wins; TP=2 stays a
    # candidate (within 25 % of the target and of TP=4's throughput), TP=8 drops out.
    prefill, _ = _estimated_candidates(_prior(), SLA, ttft_ratio=1.5)
    assert prefill == [TP[4], TP[2]]


def test_quadratic_fit_recovers_a_known_curve_and_refuses_a_negative_bend():
    xs = [100, 900, 2000, 3500, 5000]
    curve = fit(xs, [40 + 0.06 * x + 4e-6 * x * x for x in xs], 2)
    assert abs(curve(3000) - (40 + 180 + 36)) < 1e-6
    concave = fit(xs, [10 + 2 * x - 1e-4 * x * x for x in xs], 2)
    assert len(concave.coefficients) == 2  # a negative quadratic term (noise) falls back to a line


def test_a_request_that_met_a_busy_machine_does_not_bend_the_fit():
    xs = [100, 600, 1100, 1600, 2100, 2600, 3100, 3600, 4100, 4600]
    ys = [40 + 0.06 * x for x in xs]
    ys[4] += 400  # one request waited for the CPU
    curve = fit(xs, ys, 1)
    assert abs(curve(3000) - 220) < 1e-6


def _line_within(measured, target):
    line = fit([c for c, _ in measured], [itl for _, itl in measured], 1)
    return lambda c: line(c) <= target


def test_a_decode_sweep_stops_once_the_line_is_past_the_target():
    # TP=1 of the reference curves (ITL 7 + 4.6 c ms): 1 and 3 meet 20 ms; the line puts 5 at 28 ms, 40 % past it.
    measured = [(1, 10.5), (3, 19.3)]
    candidates = [1, 3, 5, 7, 9, 12]
    assert next_decode_concurrency(measured, candidates, 20.0, _line_within(measured, 20.0)) is None
    # Within UNCERTAINTY of the target, 5 is measured: the prediction may be wrong by that much.
    closer = [(1, 10.5), (3, 16.0)]
    assert next_decode_concurrency(closer, candidates, 20.0, _line_within(closer, 20.0)) == 5


def test_a_decode_sweep_brackets_the_target_and_measures_where_the_line_meets_it():
    candidates = [1, 3, 5, 7, 9, 12]
    one = [(1, 8.0)]
    assert next_decode_concurrency(one, candidates, 20.0, lambda c: False) == 3  # no prediction: the next one up
    bracketed = [(1, 8.0), (3, 12.0), (9, 26.0)]  # 20 ms lies between 3 and 9; the line meets it at ~6.7
    assert next_decode_concurrency(bracketed, candidates, 20.0, lambda c: False) == 6
    too_slow = [(3, 25.0)]  # everything measured misses: the largest lower candidate predicted within, else the lowest
    assert next_decode_concurrency(too_slow, candidates, 20.0, lambda c: False) == 1
    assert next_decode_concurrency([(1, 25.0)], candidates, 20.0, lambda c: True) is None


def test_a_decode_sweep_aims_at_what_the_selection_accepts():
    # The selection keeps a point only if ITL x 1.08 meets the target: a sweep aimed at 20 ms itself stopped at a
    # 19.0 ms point the selection then refused, and picked concurrency 1 of a TP=1 engine that serves 2 within it.
    fine = Targets.of(ProfileConfig.model_validate({"sla": {"isl": 3000, "osl": 150, "ttft": 200, "itl": 20}}))
    assert (round(fine.ttft_ms, 3), round(fine.itl_ms, 3)) == (round(200 / 1.1, 3), round(20 / 1.08, 3))
    dynamo = Targets.of(ProfileConfig.model_validate(
        {"sla": {"isl": 3000, "osl": 150, "ttft": 200, "itl": 20}, "selection": {"rule": "dynamo"}}))
    assert (dynamo.ttft_ms, dynamo.itl_ms) == (200, 20)  # Dynamo's rule has no margin
    measured = [(1, 10.6), (3, 19.0)]
    within = _line_within(measured, fine.itl_ms)
    assert next_decode_concurrency(measured, [1, 3, 5, 7, 9, 12], fine.itl_ms, within) == 2


def test_the_prefill_runs_itl_anchors_the_decode_line_without_being_a_decode_point():
    candidates = [1, 3, 5, 7, 9, 12]
    target = 20 / 1.08
    anchor = (1, 10.6)  # every prefill answer has two tokens: one decode step each, at concurrency 1
    # TP=1: 3 misses; the line from the anchor meets the target at ~2.7: 2 is measured, then the sweep is done.
    assert next_decode_concurrency([(3, 20.7)], candidates, target, lambda c: False, anchor) == 2
    assert next_decode_concurrency([(2, 15.8), (3, 20.7)], candidates, target, lambda c: False, anchor) is None
    # Only the anchor's concurrency meets the target: it is measured for real (a decode point needs its throughput).
    assert next_decode_concurrency([(3, 40.0)], candidates, target, lambda c: False, anchor) == 1
    # An anchor past the target is no bracket: lower candidates, as without it.
    assert next_decode_concurrency([(3, 40.0)], candidates, target, lambda c: False, (1, 30.0)) == 1


def test_a_mapping_with_no_point_of_its_own_is_predicted_from_the_prior_as_calibrated_so_far():
    # The demo's engines run 9x slower than AI Configurator's H200 estimate: a decode-only mapping deployed after
    # another one was measured must not start at the concurrency the uncalibrated prior puts within the target.
    config = ProfileConfig.model_validate({"sla": {"isl": 3000, "osl": 150, "ttft": 200, "itl": 20}})
    state = _Sweep(config, provider=None, settings=None, prior=_prior())
    assert state._predict(TP[1], MappingMeasurement(TP[1]), 4) == 15.0  # nothing measured yet: the prior as is
    state.found[TP[2]] = MappingMeasurement(TP[2], decode=[(4, 135.0, 10.0)])
    assert state._predict(TP[1], MappingMeasurement(TP[1]), 4) == 135.0
    anchored = MappingMeasurement(TP[1], itl_anchor=(4, 30.0))  # its own point wins over other mappings'
    assert state._predict(TP[1], anchored, 8) == 50.0
