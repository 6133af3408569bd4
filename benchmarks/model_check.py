"""Run the model-based test of plan/apply (tests/test_model_based.py) for longer.

Usage: python benchmarks/model_check.py [--examples 500] [--steps 20] [--tolerant]

The same state machine as the CI test, with a larger budget: more random
sequences (examples) and longer ones (steps), shrinking what it finds.
--tolerant accepts the signatures of the two engine bugs the machine found and
that are fixed (stale drift, a value re-sent), to hunt for others should they
come back. Exits 0 when every invariant held, 1 with hypothesis' minimal
failing sequence otherwise.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=500, help="random sequences to run")
    parser.add_argument("--steps", type=int, default=20, help="steps per sequence at most")
    parser.add_argument(
        "--tolerant", action="store_true", help="accept the two fixed bugs' signatures"
    )
    args = parser.parse_args(argv)
    import test_model_based as model

    model.TOLERATE_STALE_DRIFT = model.TOLERATE_RESEND = args.tolerant
    start = time.perf_counter()
    try:
        model.run(args.examples, args.steps)
    except AssertionError as exc:
        print(f"invariant broken after {time.perf_counter() - start:.0f} s: {exc}")
        for note in getattr(exc, "__notes__", []):  # hypothesis' minimal sequence
            print(note)
        return 1
    print(
        f"{args.examples} sequences of up to {args.steps} steps: every invariant held "
        f"({time.perf_counter() - start:.0f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
