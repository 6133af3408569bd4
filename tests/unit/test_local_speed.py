"""What the local pipeline no longer keeps (issue #15) is still there when asked for."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from personactl.manifest import render
from personactl.manifest.checks import check
from personactl.manifest.loader import load_all
from personactl.manifest.yamlsource import parse_documents

TEXT = """\
apiVersion: personactl/v1
kind: Persona
metadata:
  name: cara
spec:
  voiceGeneration: {speed: 1.1, stability: 0.5}
  tools:
    - end-call
---
kind: Tool
metadata: {name: end-call}
"""


def test_key_locations_are_found_when_asked_and_match_a_full_parse() -> None:
    lazy = parse_documents(TEXT, "p.yaml")
    full = parse_documents(TEXT, "p.yaml", keys=True)
    assert [d.source for d in lazy] == [TEXT, TEXT] and [d.source for d in full] == [None, None]
    assert all(("#key", "spec") not in d.locs for d in lazy)  # not kept until asked
    # Values' locations need no second parse...
    assert lazy[1].loc(("metadata", "name")) == full[1].loc(("metadata", "name"))
    assert lazy[1].source == TEXT
    # ...keys' do, once.
    for path in [("spec",), ("spec", "voiceGeneration", "speed"), ("metadata", "name")]:
        assert lazy[0].key_loc(path) == full[0].key_loc(path)
    assert lazy[1].key_loc(("metadata", "name")) == full[1].key_loc(("metadata", "name"))
    assert lazy[0].locs == full[0].locs and lazy[0].source is None


def test_a_duplicate_key_names_the_first_one_without_keeping_keys() -> None:
    from personactl.manifest.yamlsource import YamlError

    with pytest.raises(YamlError) as caught:
        parse_documents("a: 1\nb: 2\na: 3\n", "d.yaml")
    assert str(caught.value.diagnostic) == (
        "d.yaml:3:1: duplicate key 'a' (first defined at line 1); remove one of them"
    )


def test_template_sources_are_cached_within_a_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "acme-personas"
    shutil.copytree(example, tmp_path / "p")
    monkeypatch.chdir(tmp_path / "p")
    loaded = load_all()
    whole = check(loaded).rendered
    seen: list[render.Renderer] = []
    original = render.Renderer.__init__

    def spy(self: render.Renderer, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)  # type: ignore[arg-type]
        seen.append(self)

    monkeypatch.setattr(render.Renderer, "__init__", spy)
    monkeypatch.setattr(render, "SOURCE_CACHE_BYTES", 1)
    bounded = check(loaded).rendered
    assert len(seen[0]._sources) == 1  # the last prompt only
    assert {k: [r.prompt for r in v] for k, v in bounded.items()} == {
        k: [r.prompt for r in v] for k, v in whole.items()
    }
