"""How long a leaked state or plan file resists: the cost of testing one guess of a
secret against its sentinel, and what testing every 6-digit PIN would take on one core.

    python benchmarks/secret_hash.py
"""

from __future__ import annotations

import statistics
import time

from personactl.engine import secrets


def main() -> None:
    salt = "benchmark-lineage"
    token = secrets.sentinel("PIN", "000000", salt)
    times = []
    for guess in range(1, 8):
        started = time.perf_counter()
        secrets._digest.cache_clear()  # every guess is a new value: nothing cached
        secrets.matches(token, f"{guess:06d}", salt)
        times.append(time.perf_counter() - started)
    per_guess = statistics.median(times)
    days = per_guess * 1_000_000 / 86_400
    print(f"scrypt N=2^16 r=8 p=1: {per_guess * 1000:.0f} ms per guess (median of 7, one core)")
    print(f"every 6-digit PIN (10^6 guesses): {days:.1f} days of one core (budget: > 1 day)")


if __name__ == "__main__":
    main()
