"""`personactl schema` and the schema files themselves."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from cli_support import EXAMPLE, REPO, run_cli, run_inprocess


@pytest.mark.parametrize("kind", ["project", "persona", "tool", "llm", "plan"])
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
    assert "Invalid value for '{project|persona|tool|llm|knowledgegroup|plan}'" in r.err


def test_examples_use_the_modeline_and_validate_against_the_schema() -> None:
    import yaml

    files = sorted(EXAMPLE.glob("personas/*.yaml")) + sorted(EXAMPLE.glob("tools/*.yaml"))
    files += sorted(EXAMPLE.glob("knowledge-groups/*.yaml"))
    assert len(files) == 8
    for path in files:
        first = path.read_text().splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema=../../../schemas/"), path
        schema_file = (path.parent / first.split("$schema=")[1]).resolve()
        validator = jsonschema.Draft202012Validator(json.loads(schema_file.read_text()))
        for doc in yaml.safe_load_all(path.read_text()):
            # Plain check-jsonschema style validation, as an editor would do it.
            assert list(validator.iter_errors(doc)) == [], path


def test_ranges_come_from_the_official_spec() -> None:
    spec = json.loads((REPO / "tests" / "reference" / "anam-openapi.json").read_text())
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


def test_plan_schema_declares_the_fields_of_a_saved_plan(tmp_path: Path) -> None:
    r = run_inprocess(["schema", "plan"], tmp_path)
    props = json.loads(r.out)["properties"]
    assert props["lineage"]["type"] == ["string", "null"]
    assert props["serial"]["type"] == "integer"
    assert props["digest"]["type"] == ["string", "null"]
    assert props["display"]["type"] == "boolean"
    path = run_inprocess(["schema", "plan", "--path"], tmp_path).out.strip()
    assert Path(path).read_text(encoding="utf-8") == r.out


def test_real_plans_validate_against_the_printed_plan_schema(
    example: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`plan -o json` of the example (creates, then an update with drift, a secret
    and a rotated secret) and the plan file `plan --out` saves, against `schema plan`."""
    monkeypatch.setenv("ACME_ORDERS_TOKEN", "orders-token-1")
    schema = json.loads(run_inprocess(["schema", "plan"], example).out)
    validator = jsonschema.Draft202012Validator(schema)

    def check(doc: object) -> None:
        assert [e.message for e in validator.iter_errors(doc)] == []

    first = run_inprocess(["plan", "-o", "json"], example)
    assert first.code == 0, first.err
    created = json.loads(first.out)
    assert created["summary"]["create"] == 10
    check(created)
    assert run_inprocess(["apply", "--auto-approve"], example).code == 0
    support = example / "personas" / "support.yaml"
    support.write_text(support.read_text().replace("speed: 1.05", "speed: 0.9"))
    monkeypatch.setenv("ACME_ORDERS_TOKEN", "orders-token-2")
    (example / "personas" / "onboarding.yaml").unlink()
    second = run_inprocess(["plan", "-o", "json", "--prune"], example)
    assert second.code == 0, second.err
    updated = json.loads(second.out)
    assert updated["summary"] == {
        "create": 0,
        "update": 2,
        "replace": 0,
        "delete": 2,
        "unchanged": 6,
    }
    check(updated)
    saved = run_inprocess(["plan", "--prune", "--out", "plan.json"], example)
    assert saved.code == 0, saved.err
    check(json.loads((example / "plan.json").read_text(encoding="utf-8")))
