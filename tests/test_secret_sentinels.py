"""Secret sentinels (pure): a slow, salted hash that a leaked file cannot be reversed from
cheaply, recognised in live values without the secret's current value."""

from __future__ import annotations

import hashlib

import pytest

from personactl.core import secrets as s

LINEAGE = "0d9a3c44-1f7e-4c1b-9a55-3b1d2c3e4f50"


def test_the_hash_is_scrypt_salted_with_the_lineage_and_the_name() -> None:
    # 64 MiB and about 0.1-0.2 s of one core per guess: a million guesses (every 6-digit
    # PIN) cost more than a day. benchmarks/secret_hash.py measures it on this machine.
    assert (s.SCRYPT_N, s.SCRYPT_R, s.SCRYPT_P) == (2**16, 8, 1)
    expected = hashlib.scrypt(
        b"123456",
        salt=f"personactl/v2:{LINEAGE}:PIN".encode(),
        n=2**16,
        r=8,
        p=1,
        maxmem=128 * 2**20,
        dklen=16,
    ).hex()
    assert s.sentinel("PIN", "123456", LINEAGE) == f"⟦secret:PIN:{expected}⟧"


def test_another_state_or_name_gives_another_sentinel_for_the_same_value() -> None:
    one = s.sentinel("PIN", "123456", LINEAGE)
    assert one != s.sentinel("PIN", "123456", "another-lineage")
    assert one != s.sentinel("OTHER", "123456", LINEAGE)
    assert s.matches(one, "123456", LINEAGE) and not s.matches(one, "123457", LINEAGE)


def test_reveal_refuses_a_value_that_no_longer_matches() -> None:
    token = s.sentinel("TOK", "old", LINEAGE)
    assert s.reveal(f"Bearer {token}", LINEAGE, {"TOK": "old"}) == "Bearer old"
    with pytest.raises(s.SecretChanged):
        s.reveal(f"Bearer {token}", LINEAGE, {"TOK": "new"})
    with pytest.raises(s.SecretChanged):
        s.reveal(f"Bearer {token}", LINEAGE, {})


@pytest.mark.parametrize(
    ("live", "expected"),
    [
        ("Bearer old-1", "applied"),  # still what was applied, since rotated locally
        ("Bearer new-2", "desired"),  # already what the manifest wants
        ("Bearer typed-in-the-lab", "unknown"),  # neither: masked, never shown
    ],
)
def test_a_live_value_is_matched_against_every_form_that_held_a_secret(
    live: str, expected: str
) -> None:
    applied = f"Bearer {s.sentinel('TOK', 'old-1', LINEAGE)}"
    desired = f"Bearer {s.sentinel('TOK', 'new-2', LINEAGE)}"
    got = s.sentinelize({"h": live, "plain": "x"}, [{"h": desired}, {"h": applied}], LINEAGE)
    assert got["plain"] == "x"
    if expected == "applied":
        assert got["h"] == applied
    elif expected == "desired":
        assert got["h"] == desired
    else:
        assert s.has_secret(got["h"]) and "typed" not in got["h"]
        assert got["h"] == s.sentinel(s.UNKNOWN, live, LINEAGE)


def test_a_field_that_held_a_secret_stays_masked_when_the_manifest_drops_it() -> None:
    applied = {"systemPrompt": f"PIN is {s.sentinel('PIN', '424242', LINEAGE)}."}
    desired = {"systemPrompt": "PIN is public now."}
    got = s.sentinelize({"systemPrompt": "PIN is 424242."}, [desired, applied], LINEAGE)
    assert got == applied


def test_legacy_unsalted_sentinels_are_recognised_and_upgraded() -> None:
    legacy_hash = hashlib.sha256(b"personactl:TOK:v").hexdigest()[:12]
    legacy = f"⟦secret:TOK:{legacy_hash}⟧"
    assert s.has_secret(legacy) and s.matches(legacy, "v", LINEAGE)
    upgraded = s.upgrade_legacy({"a": [f"x {legacy}"]}, LINEAGE, {"TOK": "v"})
    assert upgraded == {"a": [f"x {s.sentinel('TOK', 'v', LINEAGE)}"]}
    assert s.upgrade_legacy(legacy, LINEAGE, {"TOK": "rotated"}) == legacy
