"""`personactl schema` and the schema files themselves."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from cli_support import EXAMPLE, REPO, run_cli


@pytest.mark.parametrize("kind", ["project", "persona", "tool"])
def test_schema_prints_the_shipped_file_and_it_is_valid(kind: str, tmp_path: Path) -> None:
    r = run_cli(["schema", kind], cwd=tmp_path)
    assert r.code == 0
    printed = json.loads(r.out)
    assert printed == json.loads((REPO / "schemas" / f"{kind}.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(printed)
    assert printed["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_schema_rejects_unknown_kind(tmp_path: Path) -> None:
    r = run_cli(["schema", "avatar"], cwd=tmp_path)
    assert r.code == 1
    assert "Invalid value for '{project|persona|tool}'" in r.err


def test_examples_use_the_modeline_and_validate_against_the_schema() -> None:
    import yaml

    files = sorted(EXAMPLE.glob("personas/*.yaml")) + sorted(EXAMPLE.glob("tools/*.yaml"))
    assert len(files) == 6
    for path in files:
        first = path.read_text().splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema=../../../schemas/"), path
        schema_file = (path.parent / first.split("$schema=")[1]).resolve()
        validator = jsonschema.Draft202012Validator(json.loads(schema_file.read_text()))
        for doc in yaml.safe_load_all(path.read_text()):
            # Plain check-jsonschema style validation, as an editor would do it.
            assert list(validator.iter_errors(doc)) == [], path


def test_ranges_come_from_the_official_spec() -> None:
    spec = json.loads((REPO.parent / "shared" / "reference" / "anam-openapi.json").read_text())
    comps = spec["components"]["schemas"]
    persona = json.loads((REPO / "schemas" / "persona.schema.json").read_text())
    props = persona["properties"]["spec"]["properties"]
    by_title = {b["title"]: b for b in props["voiceGeneration"]["anyOf"]}
    for title, comp in [
        ("ElevenLabs V1", "ElevenLabsV1VoiceGenerationOptions"),
        ("ElevenLabs V2", "ElevenLabsV2VoiceGenerationOptions"),
        ("Cartesia Sonic-3", "CartesiaSonic3VoiceGenerationOptions"),
        ("Fish Audio", "FishAudioVoiceGenerationOptions"),
    ]:
        ours, theirs = by_title[title]["properties"], comps[comp]["properties"]
        assert set(ours) == set(theirs), title
        for key, p in theirs.items():
            assert (ours[key].get("minimum"), ours[key].get("maximum")) == (
                p.get("minimum"),
                p.get("maximum"),
            ), (title, key)
    for key, p in comps["VoiceDetectionOptions"]["properties"].items():
        ours = props["voiceDetection"]["properties"][key]
        assert (ours["minimum"], ours["maximum"]) == (p["minimum"], p["maximum"])
    post = spec["paths"]["/v1/personas"]["post"]["requestBody"]["content"]["application/json"]
    assert props["avatarModel"]["enum"] == post["schema"]["properties"]["avatarModel"]["enum"]
