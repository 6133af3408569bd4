"""Emulator switches shared by `serve` flags and the in-process sandbox."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_API_KEY = "sandbox-key"
API_KEY_ENV = "PERSONACTL_EMULATOR_API_KEY"
DATABASE_FILE = "anam-emulator.sqlite3"


@dataclass(frozen=True)
class EmulatorSettings:
    """How the emulator behaves; every field has a harmless default.

    - `api_key`: the Bearer key every request must carry.
    - `hide_write_only`: omit `languageCode`, `uninterruptibleGreeting` and
      `initialMessage` from full persona responses, as the official Persona
      response schema does.
    - `latency_ms`: sleep this long at the start of every request.
    - `fail_rates`: status code -> probability of answering it instead of
      handling the request (before any effect); 429s carry `Retry-After`.
    - `drop_after_commit`: probability that a successful POST/PUT is committed
      and then answered with a dropped connection.
    - `seed`: seeds the one `random.Random` used for every fault draw.
    - `retry_after_seconds`: the `Retry-After` value of injected 429s.
    - `spike_rate`, `spike_ms`: probability that a request is answered
      `spike_ms` late (a latency spike), drawn with the same seeded random.
    - `normalize_text`: trim white space around `systemPrompt`, `description`
      and `initialMessage` on write, as a server that normalises values would;
      lets tests prove such a server causes no perpetual diff.
    - `processing_ms`: how long an uploaded knowledge document stays
      `PROCESSING` before it is `READY` (or `FAILED`); computed from the upload
      time on every read, so no background work is needed.
    """

    api_key: str = DEFAULT_API_KEY
    hide_write_only: bool = False
    latency_ms: float = 0.0
    fail_rates: Mapping[int, float] = field(default_factory=dict)
    drop_after_commit: float = 0.0
    seed: int | None = None
    retry_after_seconds: int = 1
    normalize_text: bool = False
    spike_rate: float = 0.0
    spike_ms: float = 0.0
    processing_ms: float = 50.0
