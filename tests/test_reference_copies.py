"""The official documents the tests compare against travel with the repository
(tests/reference/), so a fresh clone runs its tests alone; where the project's
shared/reference/ sits beside the checkout (as in CI), the copies must be its files."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_support import REPO

COPIES = REPO / "tests" / "reference"
SHARED = REPO.parent / "shared" / "reference"


@pytest.mark.parametrize("name", ["anam-openapi.json", "deepgram-asyncapi.yml"])
def test_the_vendored_reference_is_the_shared_one(name: str) -> None:
    if not (SHARED / name).is_file():
        pytest.skip(f"no {SHARED / name} beside this checkout")
    assert (COPIES / name).read_bytes() == (SHARED / name).read_bytes(), (
        f"tests/reference/{name} differs from {SHARED / name}: copy it again"
    )


def test_no_test_reads_outside_the_repository() -> None:
    tests = [p for p in (REPO / "tests").rglob("*.py") if p.name != Path(__file__).name]
    offenders = [
        str(p.relative_to(REPO)) for p in tests if '"shared" / "reference"' in p.read_text()
    ]
    assert offenders == []
