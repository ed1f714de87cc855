"""A synthetic multi-turn trace: the Azure conv trace (arrivals, prompt and output lengths unchanged) with prefix
reuse added by a stated model of conversations, written as Mooncake JSONL (`hash_ids`).

The Azure traces carry no prompt content, so they cannot show prefix caching; no public multi-turn trace is
available offline here. The model, deterministic for a seed:

- In arrival order, each request continues an earlier conversation with probability `CONTINUE_SHARE`, if one is
  eligible: its last turn arrived between `MIN_GAP_S` and `MAX_GAP_S` before, and its context (that turn's prompt
  plus output) is shorter than this request's prompt (a follow-up prompt holds the whole conversation so far plus
  a new message). Of up to `CANDIDATES` conversations drawn at random from those active in the window, the
  longest eligible context is continued. Otherwise the request starts a new conversation.
- A continuing prompt repeats the conversation's full blocks (`BLOCK_TOKENS` tokens each): the earlier turn's
  prompt and output, then new blocks. Every other block has its own hash id.
- `--phased`: conversations continue only in minutes 20-40 (no reuse before and after): reuse that varies over
  the hour.

    python benchmarks/multiturn_trace.py [--phased] [OUT]
    # default OUT: benchmarks/data/traces/azure_conv_multiturn[_phased]_synthetic.jsonl (not stored: 3 MB each)
"""

from __future__ import annotations

import random
import sys
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from planner.replay.traces import Request, read_trace, write_mooncake  # noqa: E402

SOURCE = ROOT / "benchmarks/data/traces/azure_llm_2023_conv.csv"
OUT = ROOT / "benchmarks/data/traces/azure_conv_multiturn_synthetic.jsonl"
PHASED_OUT = ROOT / "benchmarks/data/traces/azure_conv_multiturn_phased_synthetic.jsonl"
PHASE_MIN = (20.0, 40.0)  # --phased: conversations continue only in minutes 20-40
BLOCK_TOKENS = 128
CONTINUE_SHARE = 0.8
MIN_GAP_S, MAX_GAP_S = 10.0, 600.0
CANDIDATES = 32
SEED = 13


@dataclass
class Conversation:
    last_ms: float
    context: int  # prompt + output tokens of the last turn
    blocks: list[int] = field(default_factory=list)  # hash ids of the context's full blocks


def multiturn(requests: list[Request], seed: int = SEED,
              window_min: tuple[float, float] | None = None) -> tuple[list[Request], float]:
    """The requests with conversation prefixes, and the share of prompt tokens that repeat an earlier prefix.
    `window_min`: continue conversations only for requests arriving in [from, to) minutes (reuse that varies over
    the hour); every request starts a new conversation otherwise."""
    rng = random.Random(seed)
    next_id = 0
    active: deque[Conversation] = deque()
    out: list[Request] = []
    repeated = total = 0

    def fresh(count: int) -> list[int]:
        nonlocal next_id
        ids = list(range(next_id, next_id + count))
        next_id += count
        return ids

    for request in requests:
        while active and active[0].last_ms < request.arrival_ms - MAX_GAP_S * 1000.0:
            active.popleft()
        blocks = -(-request.isl // BLOCK_TOKENS)
        chosen = None
        in_window = window_min is None or window_min[0] * 60_000 <= request.arrival_ms < window_min[1] * 60_000
        if active and rng.random() < CONTINUE_SHARE and in_window:
            pool = list(active)
            for conversation in (rng.choice(pool) for _ in range(min(CANDIDATES, len(pool)))):
                if (conversation.last_ms <= request.arrival_ms - MIN_GAP_S * 1000.0
                        and conversation.context < request.isl
                        and (chosen is None or conversation.context > chosen.context)):
                    chosen = conversation
        if chosen is not None:
            shared = chosen.blocks[:chosen.context // BLOCK_TOKENS]
            ids = shared + fresh(blocks - len(shared))
            repeated += len(shared) * BLOCK_TOKENS
            active.remove(chosen)
            conversation = chosen
        else:
            ids = fresh(blocks)
            conversation = Conversation(0.0, 0)
        total += request.isl
        # the next turn repeats this prompt's full blocks and the output's
        full_prompt = request.isl // BLOCK_TOKENS
        conversation.context = request.isl + request.osl
        conversation.blocks = ids[:full_prompt] + fresh(conversation.context // BLOCK_TOKENS - full_prompt)
        conversation.last_ms = request.arrival_ms
        active.append(conversation)
        out.append(Request(request.arrival_ms, request.isl, request.osl, tuple(ids)))
    return out, repeated / total if total else 0.0


def main(argv: list[str]) -> int:
    phased = "--phased" in argv
    paths = [arg for arg in argv[1:] if arg != "--phased"]
    out = Path(paths[0]) if paths else (PHASED_OUT if phased else OUT)
    requests, share = multiturn(read_trace(SOURCE, BLOCK_TOKENS), window_min=PHASE_MIN if phased else None)
    write_mooncake(requests, out)
    print(f"{out}: {len(requests)} requests, {share:.1%} of prompt tokens repeat an earlier conversation's prefix "
          f"({BLOCK_TOKENS}-token blocks; replay with --trace-block-size {BLOCK_TOKENS})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
