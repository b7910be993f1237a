"""Issue 13 §3: parallel delivery measured where it shows, at the receivers.

One SQS batch of ten jobs for ten webhook integrations whose receivers answer after 300 ms, through the dispatcher
function as template.yaml loads it (AWS is moto's server and the receivers a server of their own, each in its own
process: ``bench.dispatch.stack``). The figure is the **arrival spread**: from the first request's arrival to the
tenth's, over one receiver's latency. Goal ≤ 0.3: every delivery in flight before the first answer comes back.
Unlike the batch's wall time, it does not count the emulator serving the batch's bookkeeping after the sends.
"""

from __future__ import annotations

import statistics
import time

from bench.dispatch import SLOW, Stack, job, stack
from bench.figures import Figure

GOAL = 0.3
ROUNDS = 9  # the median of 9: a batch that the shared machine slowed down once does not decide it
RECEIVERS = 10


def arrival_spreads(bench: Stack, rounds: int = ROUNDS) -> tuple[list[float], list[float]]:
    """(arrival spreads, batch wall times) in seconds, one of each per round of a batch of ten."""
    paths = [f"/slow/spread/{n}" for n in range(RECEIVERS)]
    hooks = [bench.webhook(path) for path in paths]
    bench.invoke([job(hook) for hook in hooks])  # warm: secrets cached, clients and connections made
    spreads, walls = [], []
    for round_ in range(1, rounds + 1):
        started = time.perf_counter()
        bench.invoke([job(hook) for hook in hooks])
        walls.append(time.perf_counter() - started)
        arrivals = [bench.arrivals(path) for path in paths]
        assert all(len(seen) == round_ + 1 for seen in arrivals), "a delivery did not arrive"
        this_round = [seen[-1] for seen in arrivals]
        spreads.append(max(this_round) - min(this_round))
    return spreads, walls


def measure() -> list[Figure]:
    with stack() as bench:
        spreads, walls = arrival_spreads(bench)
    spread = statistics.median(spreads)
    wall = statistics.median(walls)
    return [
        Figure(
            "dispatcher: arrival spread of 10",
            spread / SLOW,
            GOAL,
            detail=(
                f"first to tenth arrival {spread * 1000:.0f} ms, receivers answering after {SLOW * 1000:.0f} ms; "
                f"median of {len(spreads)} batches, each {', '.join(f'{s * 1000:.0f}' for s in spreads)} ms"
            ),
        ),
        Figure(
            "dispatcher: batch of 10 wall time",
            wall / SLOW,
            detail=f"{wall * 1000:.0f} ms over one receiver's {SLOW * 1000:.0f} ms (information: the emulator serves "
            "the batch's AWS calls one at a time)",
        ),
    ]


if __name__ == "__main__":  # PYTHONPATH=layers/domain:tools .venv/bin/python -m bench.spread
    for figure in measure():
        print(figure.line())
