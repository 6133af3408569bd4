"""Property tests: no input, however strange, produces a traceback."""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from cli_support import run_inprocess
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

HEADER = "apiVersion: personactl/v1\nkind: {kind}\n"

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
spec_keys = st.sampled_from(
    [
        "avatar",
        "avatarModel",
        "voice",
        "llm",
        "languageCode",
        "prompt",
        "initialMessage",
        "voiceGeneration",
        "voiceDetection",
        "tools",
        "skipGreeting",
        "type",
        "config",
        "description",
        "metadata",
        "spec",
        "lifecycle",
        "name",
        "text",
        "file",
        "{{ x }}",
    ]
)
docs = st.dictionaries(spec_keys, values, max_size=6)

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def check(content: str | bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "personas").mkdir()
        target = root / "personas" / "x.yaml"
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
        r = run_inprocess(["validate"], root)
    assert r.code in (0, 1), r
    assert "Traceback" not in r.out + r.err
    assert "internal error" not in r.err, r.err
    for line in r.lines[:-1]:
        assert line.startswith("personas/x.yaml:"), line


@SETTINGS
@given(st.text(max_size=300))
def test_random_text(text: str) -> None:
    check(text)


@SETTINGS
@given(st.binary(max_size=200))
def test_random_bytes(data: bytes) -> None:
    check(data)


@SETTINGS
@given(values)
def test_random_yaml(value: object) -> None:
    check(yaml.safe_dump(value))


@SETTINGS
@given(
    st.sampled_from(["Persona", "Tool"]),
    st.dictionaries(st.sampled_from(["metadata", "spec", "lifecycle"]), docs, max_size=3),
)
def test_random_manifests(kind: str, body: dict[str, object]) -> None:
    check(HEADER.format(kind=kind) + yaml.safe_dump(body))
