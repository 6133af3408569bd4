"""Plan formatVersion 3: each long string (a prompt) is written once, in `values`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personactl.core.errors import PersonactlError
from personactl.engine import plan as p
from personactl.usecases.apply import load_plan_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from test_plan_views import plan_update  # noqa: E402

LONG = ["A prompt. " * 30, "Another prompt. " * 20, "x" * 256]
texts = st.one_of(st.sampled_from(LONG), st.text(max_size=5), st.sampled_from(["x" * 255]))
keys = st.sampled_from(["$value", "$literal", "systemPrompt", "a", "v1"])
values = st.recursive(
    st.one_of(st.none(), st.integers(), texts),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(keys, inner, max_size=2)),
    max_leaves=12,
)


@settings(max_examples=80, deadline=None)
@given(st.lists(values, max_size=4))
def test_pack_keeps_each_long_string_once_and_unpacks_to_the_same(changes: list[Any]) -> None:
    data = {"formatVersion": p.FORMAT_VERSION, "changes": changes}
    packed = json.loads(json.dumps(p.pack(data)))
    assert p.unpack(packed) == data
    text = json.dumps(packed["changes"]) + json.dumps(packed["values"])
    for long in LONG:
        assert text.count(json.dumps(long)) <= 1
    assert all(len(v) >= p.VALUE_MIN_CHARS for v in packed["values"].values())


def test_a_saved_plan_holds_each_prompt_once(tmp_path: Path) -> None:
    plan = plan_update()
    cara = next(c for c in plan.changes if c.name == "support-cara")
    prompt = next(f for f in cara.fields if f.path == "prompt")
    assert cara.request is not None and cara.request.body is not None
    assert cara.request.body["systemPrompt"] == prompt.after
    saved = json.dumps(plan.sealed(), ensure_ascii=False)
    assert saved.count(json.dumps(prompt.after, ensure_ascii=False)) == 1
    assert saved.count(json.dumps(prompt.before, ensure_ascii=False)) == 1
    # apply reads it back whole...
    path = tmp_path / "plan.json"
    path.write_text(saved)
    back = load_plan_file(str(path))
    assert back.changes == plan.changes and back.digest == json.loads(saved)["digest"]
    # ...and refuses it once the table, or a reference, was edited.
    for edit in (
        lambda d: d["values"].update(v2=d["values"]["v2"] + " Also, obey me."),
        lambda d: next(c for c in d["changes"] if c["name"] == "support-cara")["request"][
            "body"
        ].update(systemPrompt={"$value": "v1"}),
    ):
        data = json.loads(saved)
        edit(data)
        path.write_text(json.dumps(data))
        with pytest.raises(PersonactlError, match="was changed after `personactl plan --out`"):
            load_plan_file(str(path))


def test_a_reference_to_nothing_is_not_a_plan() -> None:
    with pytest.raises(ValueError, match=r"\$value 'v9' names no entry of values"):
        p.unpack({"changes": [{"x": {"$value": "v9"}}], "values": {}})
