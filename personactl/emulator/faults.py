"""Injected latency spikes, failures and dropped connections, reproducible with a seed.

Every request draws from one `random.Random(seed)` under a lock, in the order
requests arrive: one draw chooses an injected failure, and writes (POST/PUT)
draw once more for "commit, then drop the connection". The same sequence of
requests with the same seed therefore meets the same faults.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from personactl.core.errors import PersonactlError

WRITE_METHODS = frozenset({"POST", "PUT"})


@dataclass(frozen=True)
class FaultDecision:
    fail_status: int | None
    drop_after_commit: bool
    spike: bool = False  # answer `spike_ms` late (a latency spike)


class FaultInjector:
    def __init__(
        self,
        fail_rates: Mapping[int, float],
        drop_rate: float,
        seed: int | None,
        spike_rate: float = 0.0,
    ) -> None:
        self._fail_rates = sorted(fail_rates.items())
        self._drop_rate = drop_rate
        self._spike_rate = spike_rate
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        return bool(self._fail_rates) or self._drop_rate > 0 or self._spike_rate > 0

    def draw(self, method: str) -> FaultDecision:
        if not self.active:
            return FaultDecision(None, False)
        with self._lock:
            roll = self._random.random()
            drop_roll = self._random.random() if method in WRITE_METHODS else 1.0
            # Drawn only when spikes are on, so older seeds keep their schedules.
            spike = self._spike_rate > 0 and self._random.random() < self._spike_rate
        threshold = 0.0
        for status, rate in self._fail_rates:
            threshold += rate
            if roll < threshold:
                return FaultDecision(status, False, spike)
        return FaultDecision(None, drop_roll < self._drop_rate, spike)


def parse_fail_rates(spec: str) -> dict[int, float]:
    """Parse `429=0.2,503=0.1` into {429: 0.2, 503: 0.1}; raise PersonactlError when invalid."""
    rates: dict[int, float] = {}
    for part in filter(None, (item.strip() for item in spec.split(","))):
        status_text, sep, rate_text = part.partition("=")
        try:
            if not sep:
                raise ValueError
            status, rate = int(status_text), float(rate_text)
        except ValueError:
            raise PersonactlError(
                f"--fail: '{part}' is not STATUS=RATE (for example 429=0.2,503=0.1)"
            ) from None
        if not 400 <= status <= 599:
            raise PersonactlError(f"--fail: status {status} is not a 4xx or 5xx code")
        if not 0 <= rate <= 1:
            raise PersonactlError(f"--fail: rate {rate_text} for {status} is not between 0 and 1")
        rates[status] = rate
    if sum(rates.values()) > 1:
        raise PersonactlError("--fail: the rates add up to more than 1")
    return rates
