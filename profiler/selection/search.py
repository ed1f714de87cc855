"""Fine decode concurrency search: where a mapping's ITL-vs-concurrency curve crosses the limit.

Dynamo's sweep estimates 6 concurrencies per mapping; AI Configurator answers in well under a millisecond, so
the boundary is found by bisection over every allowed concurrency (multiples of the attention-DP size up to
the KV capacity), and a log-spaced set of concurrencies fills in the Pareto front.
"""

from __future__ import annotations

from collections.abc import Callable

PROBES_PER_OCTAVE = 2  # concurrencies 1, 1.5, 2, 3, 4, 6, 8, ... (times the attention-DP step)


def boundary_concurrency(itl_at: Callable[[int], float], step: int, highest: int, limit_ms: float) -> int | None:
    """The largest multiple of `step` in `[step, highest]` whose ITL is at most `limit_ms`, found by bisection
    on the curve (ITL grows with concurrency); None when even `step` misses. Each value is estimated once."""
    if highest < step or itl_at(step) > limit_ms:
        return None
    low, high = 1, highest // step  # in units of `step`; itl(low) meets the limit
    if itl_at(high * step) <= limit_ms:
        return high * step
    while high - low > 1:  # invariant: low meets, high misses
        middle = (low + high) // 2
        if itl_at(middle * step) <= limit_ms:
            low = middle
        else:
            high = middle
    return low * step


def probe_concurrencies(step: int, highest: int) -> list[int]:
    """Log-spaced multiples of `step` up to `highest` (and `highest` itself), for the Pareto front."""
    units, value, found = highest // step, 1.0, set()
    while value <= units:
        found.add(int(value))
        value *= 2 ** (1 / PROBES_PER_OCTAVE)
    if units >= 1:
        found.add(units)
    return [unit * step for unit in sorted(found)]
