"""`personactl validate`: every error path, with the exact message and location."""

from __future__ import annotations

import json
import resource
from pathlib import Path

import pytest
from cli_support import Result, WriteFiles, run_cli

PERSONA = """\
apiVersion: personactl/v1
kind: Persona
metadata:
  name: {name}
spec:
  voice: {{name: Lucy - Fresh & Casual}}
  prompt:
    text: You help people.
"""


def validate(root: Path, *args: str) -> Result:
    return run_cli(["validate", *args], cwd=root)


def test_example_project_is_clean(example: Path) -> None:
    r = validate(example)
    assert r.code == 0, r.out + r.err
    assert r.out == "10 files checked: no errors\n"
    assert r.err == ""


def test_every_error_in_every_file_sorted_with_count(write: WriteFiles) -> None:
    root = write(
        {
            "personas/b.yaml": """
            apiVersion: personactl/v1
            kind: Persona
            metadata:
              name: b
            spec:
              avatarModel: cara-9
              voiceDetection: {endOfSpeechSensitivity: 1.5}
            """,
            "personas/a.yaml": """
            apiVersion: personactl/v1
            kind: Persona
            metadata:
              name: a
              color: red
            spec:
              skipGreeting: "yes"
            """,
        }
    )
    r = validate(root)
    assert r.code == 1
    assert r.lines == [
        "personas/a.yaml:5:3: metadata: unknown field 'color' (allowed: id, labels, name)",
        "personas/a.yaml:7:17: spec.skipGreeting: expected boolean, got 'yes'",
        "personas/b.yaml:6:16: spec.avatarModel: 'cara-9' is not one of cara-3, cara-4, "
        "cara-4-latest",
        "personas/b.yaml:7:44: spec.voiceDetection.endOfSpeechSensitivity: 1.5 is above the "
        "maximum 1",
        "4 errors in 2 files",
    ]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(
            "apiVersion: personactl/v1\nkind: Tool\nmetadata:\n  name: t\n  name: u\n",
            "p.yaml:5:3: duplicate key 'name' (first defined at line 4); remove one of them",
            id="duplicate-key",
        ),
        pytest.param(
            "- just\n- a list\n",
            "p.yaml:1:1: expected a mapping with apiVersion, kind, metadata and spec, got a list",
            id="not-a-mapping",
        ),
        pytest.param(
            "plain text\n",
            "p.yaml:1:1: expected a mapping with apiVersion, kind, metadata and spec, got a string",
            id="scalar-document",
        ),
        pytest.param(
            "apiVersion: personactl/v2\nkind: Persona\n",
            "p.yaml:1:13: unknown apiVersion 'personactl/v2' (expected personactl/v1)",
            id="unknown-api-version",
        ),
        pytest.param(
            "apiVersion: personactl/v1\nkind: Avatar\n",
            "p.yaml:2:7: unknown kind 'Avatar' (expected Persona, Tool, LLM or KnowledgeGroup)",
            id="unknown-kind",
        ),
        pytest.param(
            "apiVersion: personactl/v1\nmetadata: {name: x}\n",
            "p.yaml:1:1: missing kind (expected Persona, Tool, LLM or KnowledgeGroup)",
            id="missing-kind",
        ),
        pytest.param(
            "apiVersion: personactl/v1\nkind: Persona\nmetadata: [1, 2\n",
            "p.yaml:4:1: invalid YAML: did not find expected ',' or ']' while parsing a flow "
            "sequence",
            id="syntax",
        ),
        pytest.param(
            "apiVersion: personactl/v1\nkind: Persona\nmetadata: !!python/object/apply:os.system"
            " ['true']\n",
            "p.yaml:3:11: unsupported YAML tag 'tag:yaml.org,2002:python/object/apply:os.system'",
            id="object-tag",
        ),
        pytest.param(
            "x: " + "[" * 200 + "]" * 200 + "\n",
            "p.yaml:1:68: values are nested more than 64 levels deep",
            id="deep-nesting",
        ),
        pytest.param(
            b"apiVersion: personactl/v1\nkind: Persona\nmetadata: {name: caf\xe9}\n",
            "p.yaml:3:21: file is not valid UTF-8 (byte 0xe9); save it as UTF-8",
            id="not-utf8",
        ),
    ],
)
def test_file_level_errors(write: WriteFiles, content: str | bytes, expected: str) -> None:
    root = write({"personas/p.yaml": content})
    r = validate(root)
    assert r.code == 1
    assert r.lines == ["personas/" + expected, "1 error in 1 file"]


def test_oversized_file_is_refused_without_reading_it(write: WriteFiles) -> None:
    root = write({"p.yaml": "# " + "x" * (4 * 1024 * 1024) + "\n"})
    r = validate(root, "p.yaml")
    assert r.code == 1
    assert r.lines[0] == (
        "p.yaml:1:1: file is 4,194,307 bytes, over the 4,194,304-byte limit for manifests"
    )


def _limit_memory() -> None:
    limit = 400 * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def test_billion_laughs_fails_cleanly_within_bounded_memory(write: WriteFiles) -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    root = write({"bomb.yaml": "\n".join(lines) + "\n"})
    # Under a 400 MB address-space cap a full expansion (10^9 strings) cannot fit.
    r = run_cli(["validate", "bomb.yaml"], cwd=root, subprocess=True, preexec_fn=_limit_memory)
    assert r.code == 1
    assert r.lines == [
        "bomb.yaml:1:10: document expands to more than 50,000 values (an alias bomb?); "
        "split it or remove the repeated aliases",
        "1 error in 1 file",
    ]


def test_duplicate_names_across_files_name_both_locations(write: WriteFiles) -> None:
    root = write(
        {
            "personas/one.yaml": PERSONA.format(name="cara"),
            "personas/two.yaml": "# another team's copy\n" + PERSONA.format(name="cara"),
        }
    )
    r = validate(root)
    assert r.code == 1
    assert r.lines == [
        "personas/two.yaml:5:9: duplicate Persona 'cara': also defined at "
        "personas/one.yaml:4:9; metadata.name must be unique per kind",
        "1 error in 1 file",
    ]


def test_same_name_different_kinds_is_fine(write: WriteFiles) -> None:
    root = write(
        {
            "personas/p.yaml": PERSONA.format(name="helper"),
            "tools/t.yaml": """
            apiVersion: personactl/v1
            kind: Tool
            metadata: {name: helper}
            spec: {type: SYSTEM, description: Hang up., config: {action: end_call}}
            """,
        }
    )
    assert validate(root).code == 0


def test_multi_document_files_and_merge_keys(write: WriteFiles) -> None:
    root = write(
        {
            "personas/all.yaml": """
            apiVersion: personactl/v1
            kind: Persona
            metadata: {name: one}
            spec:
              voice: &lucy {name: Lucy - Fresh & Casual}
              prompt: {text: hi}
            ---
            apiVersion: personactl/v1
            kind: Persona
            metadata: {name: two}
            spec:
              <<: {voice: {name: Lucy - Fresh & Casual}, prompt: {text: hi}}
              languageCode: fr
              initialMessage: hello
            ---
            """,
        }
    )
    r = validate(root)
    assert (r.code, r.out) == (0, "1 file checked: no errors\n")


def test_schema_messages_point_at_the_value(write: WriteFiles) -> None:
    root = write(
        {
            "personas/p.yaml": """
            apiVersion: personactl/v1
            kind: Persona
            metadata: {name: p}
            spec:
              avatar: {name: Liv, varient: home}
              llm: {name: GPT-4o, id: CUSTOMER_CLIENT_V1}
              languageCode: no
              prompt: {file: a.j2, text: b}
              voiceGeneration: {stability: 0.5, volume: 1.2}
              tools: [{id: not-a-uuid}]
            """,
        }
    )
    r = validate(root)
    assert r.lines == [
        "personas/p.yaml:5:23: spec.avatar: unknown field 'varient' (allowed: name, variant)",
        "personas/p.yaml:6:8: spec.llm: set exactly one of 'id' or 'name'",
        "personas/p.yaml:7:17: spec.languageCode: expected string, got false (YAML reads "
        "yes/no/on/off as booleans: quote the value)",
        "personas/p.yaml:8:11: spec.prompt: set exactly one of 'file' or 'text'",
        "personas/p.yaml:9:20: spec.voiceGeneration: fits no voice provider (ElevenLabs V1: "
        "'volume' not supported; ElevenLabs V2: 'volume' not supported; Cartesia Sonic-3: "
        "'stability' not supported; Fish Audio: 'stability' not supported)",
        "personas/p.yaml:10:16: spec.tools[0].id: 'not-a-uuid' is not a UUID",
        "6 errors in 1 file",
    ]


@pytest.mark.parametrize(
    ("options", "ok"),
    [
        ("{stability: 0.5, similarityBoost: 0.8, speed: 1.2}", True),  # ElevenLabs V1
        ("{style: 0.1, useSpeakerBoost: true, model: eleven_flash_v2_5}", True),  # V2
        ("{volume: 2.0, speed: 1.5, emotion: calm}", True),  # Cartesia Sonic-3
        ("{volume: 0.5, speed: 2.0}", True),  # Fish Audio only (speed > 1.5)
        ("{speed: 2.1}", False),  # above every provider's range
        ("{emotion: happy}", False),  # not in Cartesia's enum
        ("{}", False),
    ],
)
def test_voice_generation_must_fit_one_provider(write: WriteFiles, options: str, ok: bool) -> None:
    root = write({"p.yaml": PERSONA.format(name="p") + f"  voiceGeneration: {options}\n"})
    r = validate(root, "p.yaml")
    assert r.code == (0 if ok else 1), r.out


def test_tool_schema_errors(write: WriteFiles) -> None:
    root = write(
        {
            "tools/t.yaml": """
            apiVersion: personactl/v1
            kind: Tool
            metadata: {name: "look up"}
            spec:
              type: SERVER_WEBHOOK
              description: ""
              config: {url: "ftp://x", method: FETCH}
            ---
            apiVersion: personactl/v1
            kind: Tool
            metadata: {name: sys}
            spec: {type: SYSTEM, description: Hang up.}
            ---
            apiVersion: personactl/v1
            kind: Tool
            metadata: {name: client}
            spec:
              type: CLIENT
              description: Client event.
              config: {toolTimeoutSeconds: 601}
            """,
        }
    )
    r = validate(root)
    assert r.lines == [
        "tools/t.yaml:3:18: metadata.name: 'look up' may contain only letters, digits, '_', "
        "'.' and '-'",
        "tools/t.yaml:6:16: spec.description: must not be empty",
        "tools/t.yaml:7:17: spec.config.url: 'ftp://x' is not an http:// or https:// URL",
        "tools/t.yaml:7:36: spec.config.method: 'FETCH' is not one of GET, POST, PUT, DELETE, "
        "PATCH",
        "tools/t.yaml:12:7: spec: missing required field 'config'",
        "tools/t.yaml:20:32: spec.config.toolTimeoutSeconds: 601 is above the maximum 600",
        "6 errors in 1 file",
    ]


def test_semantic_checks(write: WriteFiles) -> None:
    root = write(
        {
            "personactl.yaml": """
            apiVersion: personactl/v1
            kind: Project
            metadata: {name: acme}
            spec:
              environments:
                sandbox: {backend: sandbox}
            """,
            "personas/p.yaml": """
            apiVersion: personactl/v1
            kind: Persona
            metadata: {name: p}
            spec:
              languageCode: xx
              prompt: {file: ../prompts/missing.md.j2}
              tools: [order-lookpu, {id: 7d1e0000-0000-4000-8000-000000000000}]
            lifecycle:
              ignoreChanges: [voiceDetectoin.speechEnhancementLevel]
            """,
            "tools/t.yaml": """
            apiVersion: personactl/v1
            kind: Tool
            metadata: {name: order-lookup}
            spec: {type: SYSTEM, description: x, config: {action: end_call}}
            """,
        }
    )
    r = validate(root)
    assert r.lines == [
        "personas/p.yaml:5:17: languageCode 'xx' is not an ISO 639-1 language code "
        "(e.g. en, fr, de, es, ja)",
        "personas/p.yaml:6:18: prompt file '../prompts/missing.md.j2' not found (looked for "
        "prompts/missing.md.j2; the path is relative to the manifest)",
        "personas/p.yaml:7:11: tool 'order-lookpu' is not defined by any Tool manifest (did you "
        "mean 'order-lookup'?); name a Tool manifest or use {id: <tool id>}",
        "personas/p.yaml:9:19: ignoreChanges path 'voiceDetectoin.speechEnhancementLevel' names "
        "no spec field of a Persona (did you mean 'voiceDetection'?)",
        "4 errors in 1 file",
    ]


def test_template_errors_point_into_the_template(write: WriteFiles) -> None:
    root = write(
        {
            "personactl.yaml": """
            apiVersion: personactl/v1
            kind: Project
            metadata: {name: acme}
            spec:
              vars: {company: Acme}
            """,
            "prompts/good.md.j2": "You work for {{ company }}.\nYou sell the {{ prodcut }}.\n",
            "prompts/broken.md.j2": "Hello\n{% if company %}\nno endif\n",
            "personas/p.yaml": """
            apiVersion: personactl/v1
            kind: Persona
            metadata: {name: p}
            spec:
              prompt: {file: ../prompts/good.md.j2, vars: {product: Router}}
              initialMessage: "Hi from {{ compnay }}"
            ---
            apiVersion: personactl/v1
            kind: Persona
            metadata: {name: q}
            spec:
              prompt: {file: ../prompts/broken.md.j2}
            """,
        }
    )
    r = validate(root)
    assert r.lines == [
        "personas/p.yaml:6:19: undefined variable 'compnay' in the template for Persona 'p'; "
        "define it in spec.prompt.vars, the environment's vars or the project's vars in "
        "personactl.yaml",
        "prompts/broken.md.j2:3:1: template syntax error: Unexpected end of template. Jinja was "
        "looking for the following tags: 'elif' or 'else' or 'endif'. The innermost block that "
        "needs to be closed is 'if'.",
        "prompts/good.md.j2:2:17: undefined variable 'prodcut' in the template for Persona 'p'; "
        "define it in spec.prompt.vars, the environment's vars or the project's vars in "
        "personactl.yaml",
        "3 errors in 3 files",
    ]


def test_patch_errors_and_patched_values_point_into_personactl_yaml(write: WriteFiles) -> None:
    root = write(
        {
            "personactl.yaml": """
            apiVersion: personactl/v1
            kind: Project
            metadata: {name: acme}
            spec:
              environments:
                staging: {backend: sandbox, namePrefix: stg-}
                production:
                  backend: sandbox
                  patches:
                    - name: supprot
                      patch: {spec: {skipGreeting: true}}
                    - name: support
                      patch: {spec: {voiceGeneration: {speed: 5}}}
                    - name: support
                      patch: {metadata: {name: other}}
            """,
            "personas/support.yaml": PERSONA.format(name="support"),
        }
    )
    r = validate(root)
    assert r.lines == [
        "personactl.yaml:10:17: environment 'production' patches Persona 'supprot', but no "
        "manifest defines it (did you mean 'support'?)",
        "personactl.yaml:13:51: spec.voiceGeneration: fits no voice provider (ElevenLabs V1: "
        "speed must be at most 1.2; ElevenLabs V2: speed must be at most 1.2; Cartesia Sonic-3: "
        "speed must be at most 1.5; Fish Audio: speed must be at most 2)",
        "personactl.yaml:15:36: a patch cannot change metadata.name: it is the resource's identity",
        "3 errors in 1 file",
    ]


def test_one_environment_only(write: WriteFiles) -> None:
    root = write(
        {
            "personactl.yaml": """
            apiVersion: personactl/v1
            kind: Project
            metadata: {name: acme}
            spec:
              environments:
                staging: {backend: sandbox}
                production:
                  backend: sandbox
                  patches: [{name: support, patch: {spec: {avatarModel: cara-1}}}]
            """,
            "personas/support.yaml": PERSONA.format(name="support"),
        }
    )
    assert validate(root, "-e", "staging").code == 0
    r = validate(root, "-e", "production")
    assert r.lines[0] == (
        "personactl.yaml:9:61: spec.avatarModel: 'cara-1' is not one of cara-3, cara-4, "
        "cara-4-latest"
    )
    r = validate(root, "-e", "prod")
    assert r.code == 1
    assert r.err == (
        "error: unknown environment 'prod' (known: production, staging); define it under "
        "spec.environments in personactl.yaml\n"
    )


def test_project_file_errors(write: WriteFiles) -> None:
    root = write(
        {
            "personactl.yaml": """
            apiVersion: personactl/v1
            kind: Project
            metadata: {name: acme}
            spec:
              defaultEnvironment: prod
              environments:
                Staging: {backend: cloud}
            """,
            "personas/support.yaml": PERSONA.format(name="support"),
        }
    )
    r = validate(root)
    assert r.lines == [
        "personactl.yaml:5:23: defaultEnvironment 'prod' is not one of the environments (Staging)",
        "personactl.yaml:7:5: spec.environments: 'Staging' does not match the pattern "
        "^[a-z][a-z0-9_-]{0,31}$",
        "personactl.yaml:7:24: spec.environments.Staging.backend: 'cloud' is not one of "
        "sandbox, anam",
        "3 errors in 1 file",
    ]


def test_json_output(write: WriteFiles) -> None:
    root = write({"p.yaml": "apiVersion: personactl/v1\nkind: Avatar\n"})
    r = validate(root, "p.yaml", "-o", "json")
    assert r.code == 1
    assert json.loads(r.out) == [
        {
            "path": "p.yaml",
            "line": 2,
            "column": 7,
            "message": "unknown kind 'Avatar' (expected Persona, Tool, LLM or KnowledgeGroup)",
            "rule": "kind",
        }
    ]
    assert r.err == "1 error in 1 file\n"


def test_github_annotations(write: WriteFiles) -> None:
    root = write({"p, q.yaml": "apiVersion: personactl/v1\nkind: Avatar\n"})
    r = validate(root, "p, q.yaml", "-o", "github")
    assert r.code == 1
    assert r.out == (
        "::error file=p%2C q.yaml,line=2,col=7,title=personactl kind::unknown kind 'Avatar' "
        "(expected Persona, Tool, LLM or KnowledgeGroup)\n"
    )


def test_clean_json_output_is_an_empty_list(example: Path) -> None:
    r = validate(example, "-o", "json")
    assert (r.code, json.loads(r.out)) == (0, [])


def test_explicit_files_report_only_their_problems(example: Path) -> None:
    # Break one persona; validating another file (as pre-commit would) stays clean,
    # and references to Tool manifests in other files still resolve.
    bad = example / "personas" / "concierge-fr.yaml"
    bad.write_text(bad.read_text().replace("avatarModel: cara-3", "avatarModel: cara-9"))
    assert validate(example, "personas/support.yaml").code == 0
    r = validate(example, "personas/support.yaml", "personas/concierge-fr.yaml")
    assert r.code == 1
    assert r.lines[-1] == "1 error in 1 file"
    assert r.lines[0].startswith("personas/concierge-fr.yaml:13:16: spec.avatarModel: 'cara-9'")


def test_foreign_yaml_files_are_skipped(example: Path) -> None:
    (example / ".github").mkdir()
    (example / ".github" / "ci.yml").write_text("on: [push]\njobs: {}\n")
    r = validate(example, ".github/ci.yml", "personas/support.yaml")
    assert (r.code, r.out) == (
        0,
        "1 file checked: no errors (1 file skipped: no personactl documents)\n",
    )


def test_missing_path_and_no_manifests(write: WriteFiles) -> None:
    root = write({"README.md": "nothing here\n"})
    r = validate(root, "nope.yaml")
    assert r.lines == ["nope.yaml:1:1: no such file or directory", "1 error in 1 file"]
    r = validate(root)
    assert r.code == 1
    assert r.err == (
        "error: no manifests found by personas/**/*.yaml, tools/**/*.yaml, llms/**/*.yaml, "
        "knowledge-groups/**/*.yaml in the current directory (no personactl.yaml found); "
        "run personactl in the project's directory, "
        "point -C at it, start one with `personactl init` or pass paths\n"
    )


def test_directory_argument_and_dash_C(example: Path, tmp_path: Path) -> None:
    # -C picks the project for `validate` alone; paths are the caller's, like the messages.
    r = run_cli(["-C", str(example), "validate", "acme-personas/tools"], cwd=tmp_path)
    assert (r.code, r.out) == (0, "4 files checked: no errors\n")
    r = run_cli(["-C", str(example), "validate", "tools"], cwd=tmp_path)
    assert r.lines == ["tools:1:1: no such file or directory", "1 error in 1 file"]
    bad = example / "tools" / "system.yaml"
    bad.write_text(bad.read_text().replace("end_call", "hang_up"))
    r = run_cli(["-C", str(example), "validate", str(bad)], cwd=tmp_path)
    assert r.lines[0].startswith("acme-personas/tools/system.yaml:")
    r = run_cli(["-C", str(example), "validate"], cwd=tmp_path)
    assert r.lines[0].startswith("tools/system.yaml:")  # no paths: relative to the project


def test_usage_errors_exit_1_not_2(example: Path) -> None:
    r = validate(example, "--frobnicate")
    assert r.code == 1
    assert r.err.endswith("Error: No such option '--frobnicate'.\n")
    assert "Traceback" not in r.err


def test_names_and_labels_with_hidden_characters_are_refused(write: WriteFiles) -> None:
    # Control characters and bidirectional overrides make a name read as something else.
    root = write(
        {
            "personas/p.yaml": """
            apiVersion: personactl/v1
            kind: Persona
            metadata:
              name: "cara\\u202egpj.exe"
              labels:
                "team\\n": support
                tier: "one\\0"
            spec: {}
            ---
            apiVersion: personactl/v1
            kind: Persona
            metadata: {name: "ca\\nra"}
            spec: {}
            ---
            apiVersion: personactl/v1
            kind: Persona
            metadata: {name: "\\u2066isolated\\u2069"}
            spec: {}
            """,
            "tools/t.yaml": """
            apiVersion: personactl/v1
            kind: Tool
            metadata: {name: "lookup\\n"}
            spec: {type: SYSTEM, description: Hang up., config: {action: end_call}}
            """,
        }
    )
    r = validate(root)
    hidden = "a control or bidirectional formatting character; remove it"
    assert r.lines == [
        f"personas/p.yaml:4:9: metadata.name: 'cara\\u202egpj.exe' contains U+202E "
        f"(RIGHT-TO-LEFT OVERRIDE), {hidden}",
        f"personas/p.yaml:6:5: metadata.labels: 'team\\n' contains U+000A, {hidden}",
        f"personas/p.yaml:7:11: metadata.labels.tier: 'one\\x00' contains U+0000, {hidden}",
        f"personas/p.yaml:12:18: metadata.name: 'ca\\nra' contains U+000A, {hidden}",
        f"personas/p.yaml:17:18: metadata.name: '\\u2066isolated\\u2069' contains U+2066 "
        f"(LEFT-TO-RIGHT ISOLATE), {hidden}",
        f"tools/t.yaml:3:18: metadata.name: 'lookup\\n' contains U+000A, {hidden}",
        "6 errors in 2 files",
    ]


def test_ignore_changes_paths_are_checked_segment_by_segment(write: WriteFiles) -> None:
    root = write(
        {
            "personas/p.yaml": """
            apiVersion: personactl/v1
            kind: Persona
            metadata: {name: p}
            spec: {}
            lifecycle:
              ignoreChanges:
                - voiceGeneration.spede
                - voiceGeneration.speed
                - voiceDetection.speechEnhancementLevel
                - languageCode.region
                - voice.nmae
                - avatar.variant
            """,
            "tools/t.yaml": """
            apiVersion: personactl/v1
            kind: Tool
            metadata: {name: t}
            spec:
              type: SERVER_WEBHOOK
              description: Look it up.
              config: {url: "https://example.com/hook", method: GET}
            lifecycle:
              ignoreChanges: [config.headers.Authorization, config.urll]
            """,
        }
    )
    r = validate(root)
    assert r.lines == [
        "personas/p.yaml:7:7: ignoreChanges path 'voiceGeneration.spede': voiceGeneration has "
        "no field 'spede' (did you mean 'speed'?)",
        "personas/p.yaml:10:7: ignoreChanges path 'languageCode.region': languageCode has no "
        "fields",
        "personas/p.yaml:11:7: ignoreChanges path 'voice.nmae': voice has no field 'nmae' (did "
        "you mean 'name'?)",
        "tools/t.yaml:9:49: ignoreChanges path 'config.urll': config has no field 'urll' (did "
        "you mean 'url'?)",
        "4 errors in 2 files",
    ]
