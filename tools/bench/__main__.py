"""`make bench` (or `python -m bench [--only coldstart,fanout]`): every target's figure next to its goal.

Exits 1 when a goal is missed or a target could not be measured, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback

from bench.figures import Figure

# Each module exposes measure() -> list[Figure]; run in this order. dispatch: targets 1 and 5 (parallel
# delivery, dispatcher overhead; information since issue 13); spread: the arrival spread at the receivers;
# coldstart: imports over their frameworks' floors; firstcall: the first invocation after the SnapStart hooks;
# logs: target 3; the others are named after what they measure.
TARGETS = ("cost", "dispatch", "spread", "coldstart", "firstcall", "logs", "fanout", "package", "throughput")

HEADER = (
    "Each figure is a ratio measured in this one run (or a size, or a rate reported without a goal).\n"
    "Ratios hold from one machine to another; absolute times do not."
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", default="", help=f"comma-separated targets among: {', '.join(TARGETS)}")
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(TARGETS))
    if unknown:
        parser.error(f"unknown target(s): {', '.join(unknown)}; choose among {', '.join(TARGETS)}")
    args.targets = [name for name in TARGETS if name in chosen] if chosen else list(TARGETS)
    return args


def run(name: str) -> tuple[list[Figure], str | None]:
    """The target's figures, or why there are none (missing module, or it failed)."""
    try:
        module = importlib.import_module(f"bench.{name}")
    except ModuleNotFoundError as error:
        if error.name != f"bench.{name}":
            raise  # the module exists but one of its imports is missing: a real failure, with its traceback
        return [], "not measured: no module bench." + name
    try:
        return list(module.measure()), None
    except Exception:
        traceback.print_exc()
        return [], "not measured: it failed (traceback above)"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(HEADER, flush=True)
    failed = False
    for name in args.targets:
        started = time.monotonic()
        print(f"\n[{name}]", flush=True)
        figures, problem = run(name)
        for figure in figures:
            print(figure.line(), flush=True)
            failed |= not figure.met
        if problem:
            print(f"{name:<40} {problem}", flush=True)
            failed = True
        print(f"({name} took {time.monotonic() - started:.0f} s)", flush=True)
    print("\nevery goal met" if not failed else "\nSOME GOALS MISSED OR NOT MEASURED", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
