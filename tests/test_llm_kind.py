"""Custom LLMs as code, end to end: the real CLI over real HTTP against the emulator.

A small project: the LLM `gateway` (a secret from the environment) used by the
persona `coach` with a bare-string `llm:`, and a persona `plain` on a stock LLM.
Each test asserts the exact requests personactl sent (the emulator's own log).
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_support import KEY, Emulator, Recorded, edit, emulator, pc

from personactl.core.secrets import SENTINEL
from personactl.emulator.errors import DropConnection

LLM_KEY = "llm-key-2b7c91e0-unique"
ROTATED = "llm-key-rotated-5a0f"
URL = "https://llm.acme.example/v1/chat/completions"


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[Emulator]:
    with emulator(tmp_path / "emu-data") as e:
        yield e


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


def _project(root: Path, url: str) -> Path:
    return _write(
        root,
        {
            "personactl.yaml": f"""
                apiVersion: personactl/v1
                kind: Project
                metadata: {{name: llms}}
                spec:
                  manifests: [llms/*.yaml, personas/*.yaml]
                  defaultEnvironment: emu
                  environments:
                    emu: {{backend: anam, apiUrl: "{url}", apiKeyEnv: EMU_KEY, namePrefix: t-}}
                """,
            "llms/gateway.yaml": f"""
                apiVersion: personactl/v1
                kind: LLM
                metadata: {{name: gateway}}
                spec:
                  description: Acme's gateway
                  llmFormat: openai
                  urls:
                    - url: {URL}
                  modelName: gpt-4o
                  secret: '{{{{ secret("LLM_KEY") }}}}'
                  temperature: 0.4
                """,
            "personas/coach.yaml": """
                apiVersion: personactl/v1
                kind: Persona
                metadata: {name: coach}
                spec:
                  description: Runs on the gateway
                  llm: gateway
                  prompt: {text: You coach.}
                ---
                apiVersion: personactl/v1
                kind: Persona
                metadata: {name: plain}
                spec:
                  description: Runs on a stock LLM
                  llm: {name: GPT-4o}
                  prompt: {text: You help.}
                """,
        },
    )


def run(project: Path, *args: str, key: str = LLM_KEY) -> Any:
    return pc(project, *args, env={"LLM_KEY": key})


def _live_llms(emu: Emulator) -> list[dict[str, Any]]:
    """The custom LLMs, read straight from the app (not logged; safe inside a hook)."""
    transport = httpx.WSGITransport(app=emu.app)  # type: ignore[arg-type]
    with httpx.Client(
        transport=transport, base_url="http://lab", headers={"Authorization": f"Bearer {KEY}"}
    ) as c:
        got = c.get("/v1/llms", params={"includeDefaults": "false", "perPage": 100}).json()
    return list(got["data"])


def _persona_llm(emu: Emulator, name: str) -> str:
    summary = next(p for p in emu.personas() if p["name"] == name)
    with emu.client() as c:
        return str(c.get(f"/v1/personas/{summary['id']}").json()["llmId"])


def _writes(emu: Emulator) -> list[tuple[str, str, Any]]:
    """The writes the emulator received, ids as {id}: (method, path, body)."""
    import re

    uuid = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    return [(r.method, re.sub(uuid, "{id}", r.path), r.body) for r in emu.writes()]


def _state(project: Path) -> dict[str, Any]:
    return dict(json.loads((project / ".personactl" / "emu.json").read_text()))


@pytest.fixture
def applied(emu: Emulator, tmp_path: Path) -> Path:
    project = _project(tmp_path / "proj", emu.url)
    r = run(project, "apply", "--auto-approve")
    assert r.code == 0, r.err
    emu.reset_log()
    return project


def test_create_then_no_op_and_the_secret_never_leaves(emu: Emulator, tmp_path: Path) -> None:
    project = _project(tmp_path / "proj", emu.url)
    r = run(project, "apply", "--auto-approve")
    assert r.code == 0, r.err
    (llm,) = _live_llms(emu)
    posts = [(m, p, b) for m, p, b in _writes(emu) if m == "POST"]
    # The LLM first (the persona needs its id), with exactly the POST schema's keys.
    assert posts[0] == (
        "POST",
        "/v1/llms",
        {
            "displayName": "t-gateway",
            "description": "Acme's gateway",
            "llmFormat": "openai",
            "urls": [{"url": URL}],
            "modelName": "gpt-4o",
            "secret": LLM_KEY,
            "temperature": 0.4,
        },
    )
    coach = next(b for m, p, b in posts if p == "/v1/personas" and b["name"] == "t-coach")
    assert coach["llmId"] == llm["id"]
    assert _persona_llm(emu, "t-coach") == llm["id"]
    # The state keeps a sentinel for the write-only secret, never the key.
    text = (project / ".personactl" / "emu.json").read_text()
    assert LLM_KEY not in text and LLM_KEY not in r.out + r.err
    entry = next(e for e in _state(project)["resources"] if e["kind"] == "LLM")
    assert (entry["name"], entry["anamName"], entry["id"]) == ("gateway", "t-gateway", llm["id"])
    assert SENTINEL.fullmatch(entry["applied"]["secret"])
    assert "secret" not in entry["observed"]  # never returned

    emu.reset_log()
    r = run(project, "plan", "--detailed-exitcode")
    assert r.code == 0, r.out + r.err
    assert r.lines[-1] == "Plan: 0 to create, 0 to update, 0 to delete, 3 unchanged."
    assert emu.writes() == []


def test_a_rotated_secret_is_a_sensitive_change_sent_alone(applied: Path, emu: Emulator) -> None:
    r = run(applied, "plan", "--detailed-exitcode", key=ROTATED)
    assert r.code == 2, r.err
    assert '  ~ llm "gateway" (t-gateway, id ' in r.out
    assert "      ~ secret: (sensitive) → (sensitive)" in r.lines
    assert ROTATED not in r.out and LLM_KEY not in r.out
    r = run(applied, "apply", "--auto-approve", key=ROTATED)
    assert r.code == 0, r.err
    assert _writes(emu) == [("PUT", "/v1/llms/{id}", {"secret": ROTATED})]
    emu.reset_log()
    assert run(applied, "plan", "--detailed-exitcode", key=ROTATED).code == 0
    # and the old key is now the change
    assert run(applied, "plan", "--detailed-exitcode").code == 2


def test_a_change_a_put_can_say_is_a_minimal_put(applied: Path, emu: Emulator) -> None:
    new = "https://llm2.acme.example/v1/chat/completions"
    edit(applied / "llms/gateway.yaml", URL, new)
    edit(applied / "llms/gateway.yaml", "temperature: 0.4", "temperature: 0.2")
    r = run(applied, "apply", "--auto-approve")
    assert r.code == 0, r.err
    # The PUT schema takes one `url` string where the POST takes `urls`.
    assert _writes(emu) == [("PUT", "/v1/llms/{id}", {"url": new, "temperature": 0.2})]
    emu.reset_log()
    assert run(applied, "plan", "--detailed-exitcode").code == 0


def test_a_change_no_put_can_make_replaces_the_llm_and_moves_its_personas(
    applied: Path, emu: Emulator
) -> None:
    (old,) = _live_llms(emu)
    # A persona made in the Lab on the same LLM: no manifest manages it.
    lab = {"name": "lab-helper", "description": "Lab", "llmId": old["id"]}
    _behind_the_back(emu, "POST", "/v1/personas", lab)
    region = f"    - url: {URL}\n      region: eu\n"
    edit(applied / "llms/gateway.yaml", f"    - url: {URL}\n", region)
    r = run(applied, "plan", "--detailed-exitcode")
    assert r.code == 2, r.err
    assert '  # LLM "gateway" must be replaced (llms/gateway.yaml:3:18)' in r.lines, r.out
    assert any(line.startswith('  -/+ llm "gateway" (t-gateway, id ') for line in r.lines), r.out
    assert (
        "      # note: must be replaced: urls cannot be changed by a PUT (it takes one url "
        "string: a single item with no other key)" in r.lines
    ), r.out
    assert '      ~ llm: "t-gateway" (' in r.out and '→ "gateway" (known after apply)' in r.out
    assert '  ~ persona "lab-helper" (id ' in r.out
    assert (
        "      # note: no manifest manages it: moved off the replaced resource so it keeps "
        "working, and not recorded in the state" in r.lines
    ), r.out
    assert r.lines[-1] == "Plan: 0 to create, 2 to update, 1 to replace, 0 to delete, 1 unchanged."
    plan = json.loads(run(applied, "plan", "-o", "json").out)
    assert plan["summary"]["replace"] == 1
    assert [(c["action"], c["name"], c["record"]) for c in plan["changes"]] == [
        ("replace", "gateway", True),
        ("update", "coach", True),
        ("no-op", "plain", True),
        ("update", "lab-helper", False),
    ]

    r = run(applied, "apply", "--auto-approve")
    assert r.code == 0, r.err
    (new,) = _live_llms(emu)
    assert new["id"] != old["id"] and new["urls"] == [{"url": URL, "region": "eu"}]
    # Create the new one, move both personas to it, then delete the old one: nothing else.
    writes = _writes(emu)
    assert writes[1:3] == [("PUT", "/v1/personas/{id}", {"llmId": new["id"]})] * 2
    assert sorted(x.path for x in emu.writes()[1:3]) == sorted(
        f"/v1/personas/{p['id']}" for p in emu.personas() if p["name"] != "t-plain"
    )
    assert writes == [
        (
            "POST",
            "/v1/llms",
            {
                "displayName": "t-gateway",
                "description": "Acme's gateway",
                "llmFormat": "openai",
                "urls": [{"url": URL, "region": "eu"}],
                "modelName": "gpt-4o",
                "secret": LLM_KEY,
                "temperature": 0.4,
            },
        ),
        ("PUT", "/v1/personas/{id}", {"llmId": new["id"]}),
        ("PUT", "/v1/personas/{id}", {"llmId": new["id"]}),
        ("DELETE", "/v1/llms/{id}", None),
    ]
    assert emu.writes()[-1].path == f"/v1/llms/{old['id']}"
    assert _persona_llm(emu, "t-coach") == _persona_llm(emu, "lab-helper") == new["id"]
    assert "Apply complete! Resources: 0 created, 2 updated, 1 replaced, 0 deleted, 0 failed." in (
        r.out
    )
    # The Lab's persona is still not managed: the state knows only the manifests'.
    names = [e["name"] for e in _state(applied)["resources"]]
    assert sorted(names) == ["coach", "gateway", "plain"]
    emu.reset_log()
    assert run(applied, "plan", "--detailed-exitcode").code == 0


def test_a_replace_cut_short_deletes_the_old_llm_on_the_next_run(
    tmp_path: Path,
) -> None:
    """The personas' moves fail: the old LLM is kept (deposed in the state), and the next
    apply moves them (the Lab's one too) to the LLM already made, then deletes it."""
    fail = {"on": False}

    def hook(req: Recorded) -> None:
        if fail["on"] and req.method == "PUT" and req.path.startswith("/v1/personas/"):
            raise ConnectionError("the persona's move never arrives")

    with emulator(tmp_path / "emu-data", hook=hook) as emu:
        project = _project(tmp_path / "proj", emu.url)
        assert run(project, "apply", "--auto-approve").code == 0
        (old,) = _live_llms(emu)
        _behind_the_back(emu, "POST", "/v1/personas", {"name": "lab-helper", "llmId": old["id"]})
        edit(project / "llms/gateway.yaml", "llmFormat: openai", "llmFormat: gemini")
        fail["on"] = True
        r = run(project, "apply", "--auto-approve")
        assert r.code == 1
        assert (
            f"old LLM {old['id']} kept: persona 'coach', persona 'lab-helper' still use it" in r.err
        ), r.err
        assert len(_live_llms(emu)) == 2
        deposed = [e for e in _state(project)["resources"] if e["name"] == "gateway#deposed"]
        assert [e["id"] for e in deposed] == [old["id"]]
        fail["on"] = False
        emu.reset_log()
        r = run(project, "apply", "--auto-approve")
        assert r.code == 0, r.err
        move = ("PUT", "/v1/personas/{id}", {"llmId": _live_llms(emu)[0]["id"]})
        assert _writes(emu) == [move, move, ("DELETE", "/v1/llms/{id}", None)]
        assert [llm["llmFormat"] for llm in _live_llms(emu)] == ["gemini"]
        assert _persona_llm(emu, "lab-helper") == _live_llms(emu)[0]["id"]
        emu.reset_log()
        assert run(project, "plan", "--detailed-exitcode").code == 0


def test_prune_deletes_an_llm_only_once_no_persona_uses_it(applied: Path, emu: Emulator) -> None:
    (applied / "llms/gateway.yaml").unlink()
    # A persona still names it: validate says so (with the file and line).
    r = run(applied, "plan", "--prune")
    assert r.code == 1
    assert "personas/coach.yaml:6:8: LLM 'gateway' is not defined by any LLM manifest" in r.err
    edit(applied / "personas/coach.yaml", "llm: gateway", "llm: {name: GPT-4o}")
    r = run(applied, "plan")
    assert r.code == 0 and "run with --prune to delete it" in r.err
    # A persona made in the Lab on it: the API counts no LLM's users, so prune reads the
    # personas no manifest manages, and keeps the LLM.
    (llm,) = _live_llms(emu)
    _behind_the_back(emu, "POST", "/v1/personas", {"name": "lab-helper", "llmId": llm["id"]})
    r = run(applied, "plan", "--prune")
    assert (
        "Warning: LLM 'gateway' (t-gateway) is still used by 'lab-helper', which no manifest "
        "manages: not deleted" in r.err
    ), r.err
    assert r.lines[-1] == "Plan: 0 to create, 1 to update, 0 to delete, 1 unchanged."
    lab = next(p for p in emu.personas() if p["name"] == "lab-helper")
    _behind_the_back(emu, "DELETE", f"/v1/personas/{lab['id']}", None)
    emu.reset_log()
    r = run(applied, "apply", "--auto-approve", "--prune")
    assert r.code == 0, r.err
    # Users first: the persona leaves the LLM, then the LLM goes.
    assert [(m, p) for m, p, _ in _writes(emu)] == [
        ("PUT", "/v1/personas/{id}"),
        ("DELETE", "/v1/llms/{id}"),
    ]
    assert _live_llms(emu) == []


def test_prune_keeps_an_llm_a_managed_persona_still_uses(applied: Path, emu: Emulator) -> None:
    (applied / "llms/gateway.yaml").unlink()
    (llm,) = _live_llms(emu)
    # coach keeps running on it, now named by id (its llm field unchanged live)
    edit(applied / "personas/coach.yaml", "llm: gateway", f"llm: {{id: {llm['id']}}}")
    r = run(applied, "apply", "--auto-approve", "--prune")
    assert r.code == 0, r.err
    assert "LLM 'gateway' (t-gateway) is still used by a persona: not deleted" in r.err
    assert _writes(emu) == []


def test_a_dropped_post_is_adopted_never_duplicated(tmp_path: Path) -> None:
    """The LLM's POST is committed, then its connection dropped: apply looks the custom
    LLM up by displayName, adopts it, and never sends the POST again."""
    box: dict[str, Emulator] = {}

    def hook(req: Recorded) -> None:
        if req.method == "POST" and req.path == "/v1/llms" and not _live_llms(box["emu"]):
            _behind_the_back(box["emu"], "POST", "/v1/llms", req.body)
            raise DropConnection("committed, then dropped")

    with emulator(tmp_path / "emu-data", hook=hook) as emu:
        box["emu"] = emu
        project = _project(tmp_path / "proj", emu.url)
        r = run(project, "apply", "--auto-approve")
        assert r.code == 0, r.err
        assert "[1/3] llm 'gateway': created (adopted after a dropped connection)" in r.err
        (llm,) = _live_llms(emu)
        writes = _writes(emu)
        assert [(m, p) for m, p, _ in writes] == [
            ("POST", "/v1/llms"),  # dropped: never sent again
            ("PUT", "/v1/llms/{id}"),  # the adopted one made as desired (PUT vocabulary)
            ("POST", "/v1/personas"),
            ("POST", "/v1/personas"),
        ]
        assert writes[1][2] == {
            "displayName": "t-gateway",
            "description": "Acme's gateway",
            "llmFormat": "openai",
            "url": URL,
            "modelName": "gpt-4o",
            "secret": LLM_KEY,
            "temperature": 0.4,
        }
        # Looked up by its displayName as the create started, and after the drop before
        # anything else was sent.
        lookups = [x.path for x in emu.log if x.method == "GET" and "search=t-gateway" in x.path]
        assert [p.split("?")[0] for p in lookups] == ["/v1/llms", "/v1/llms"]
        assert _persona_llm(emu, "t-coach") == llm["id"]
        emu.reset_log()
        assert run(project, "plan", "--detailed-exitcode").code == 0


def _behind_the_back(emu: Emulator, method: str, path: str, body: Any) -> None:
    """A change made in the Lab, straight into the emulator app (safe inside a hook)."""
    transport = httpx.WSGITransport(app=emu.app)  # type: ignore[arg-type]
    with httpx.Client(
        transport=transport, base_url="http://lab", headers={"Authorization": f"Bearer {KEY}"}
    ) as c:
        assert c.request(method, path, json=body).status_code < 300


def test_import_writes_the_llm_with_a_secret_to_set_and_round_trips(
    applied: Path, emu: Emulator
) -> None:
    """Made in the Lab (here: by a project whose files and state are then lost), imported
    with --all: the custom LLM becomes a manifest whose secret reads a variable the
    message names, and the persona names that manifest."""
    for gone in ("llms/gateway.yaml", "personas/coach.yaml", ".personactl/emu.json"):
        (applied / gone).unlink()
    _write(
        applied,
        {
            "personas/other.yaml": "apiVersion: personactl/v1\nkind: Persona\n"
            "metadata: {name: other}\nspec: {description: keeps the project valid}\n"
        },
    )
    r = pc(applied, "import", "--all", env={"GATEWAY_SECRET": LLM_KEY})
    assert r.code == 0, r.err
    assert "GATEWAY_SECRET" in r.out + r.err
    text = (applied / "llms" / "gateway.yaml").read_text()
    assert "kind: LLM" in text and "name: gateway" in text
    assert "secret: '{{ secret(\"GATEWAY_SECRET\") }}'" in text, text
    assert LLM_KEY not in text
    assert "llm: gateway" in (applied / "personas" / "coach.yaml").read_text()
    assert "llm:\n    name: GPT-4o" in (applied / "personas" / "plain.yaml").read_text()
    env = {"GATEWAY_SECRET": LLM_KEY}
    # The API never returns the secret: the first plan sends it once (write-only) ...
    r = pc(applied, "plan", "--detailed-exitcode", env=env)
    assert r.code == 2, r.err
    assert "      + secret = (sensitive)  # write-only: not returned by the API" in r.lines
    assert r.lines[-1].startswith("Plan: 1 to create, 1 to update, 0 to delete"), r.out
    emu.reset_log()
    assert pc(applied, "apply", "--auto-approve", "--target", "gateway", env=env).code == 0
    assert _writes(emu) == [("PUT", "/v1/llms/{id}", {"secret": LLM_KEY})]
    # ... and then nothing differs.
    r = pc(applied, "plan", "--detailed-exitcode", "--target", "coach", env=env)
    assert r.code == 0, r.out


def test_validate_refuses_a_literal_key_naming_the_line(tmp_path: Path) -> None:
    project = _project(tmp_path / "proj", "http://127.0.0.1:9")
    edit(project / "llms/gateway.yaml", "'{{ secret(\"LLM_KEY\") }}'", "sk-live-123456")
    edit(project / "llms/gateway.yaml", "llmFormat: openai", "llmFormat: anthropic")
    r = pc(project, "validate")
    assert r.code == 1
    assert r.lines == [
        "llms/gateway.yaml:6:14: spec.llmFormat: 'anthropic' is not one of openai, "
        "azure_openai, groq_openai, gemini, advanced_voice, none",
        'llms/gateway.yaml:10:11: spec.secret must be a {{ secret("NAME") }} value, not a '
        "literal key (it would end up in git): export the key as an environment variable and "
        "write secret: '{{ secret(\"ACME_LLM_KEY\") }}'",
        "2 errors in 1 file",
    ], r.out
    assert "sk-live-123456" not in r.err + r.out
    edit(project / "personas/coach.yaml", "llm: gateway", "llm: gatewy")
    r = pc(project, "validate")
    assert (
        "personas/coach.yaml:6:8: LLM 'gatewy' is not defined by any LLM manifest "
        "(did you mean 'gateway'?); name an LLM manifest, or use {name: <catalog name>} "
        "or {id: <llm id>}" in r.lines
    ), r.out


def test_target_persona_brings_its_llm_along(emu: Emulator, tmp_path: Path) -> None:
    project = _project(tmp_path / "proj", emu.url)
    r = run(project, "apply", "--auto-approve", "--target", "coach")
    assert r.code == 0, r.err
    assert [(m, p) for m, p, _ in _writes(emu)] == [
        ("POST", "/v1/llms"),
        ("POST", "/v1/personas"),
    ]
    assert KEY not in r.out + r.err


def test_export_maps_a_persona_on_the_gateway_to_a_deepgram_think_endpoint(
    example: Path,
) -> None:
    """The example's onboarding-trainer runs on llms/acme-gateway.yaml (openai format)."""
    import jsonschema
    from cli_support import run_cli

    from personactl.targets import deepgram

    r = run_cli(["export", "onboarding-trainer", "--format", "deepgram"], example)
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    schema = json.loads(deepgram.SCHEMA_PATH.read_text())
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(doc)) == []
    think = doc["agent"]["think"]
    assert think["provider"] == {"type": "open_ai", "model": "gpt-4o", "temperature": 0.4}
    assert think["endpoint"] == {
        "url": "https://llm.acme.example/v1/chat/completions",
        "headers": {"Authorization": "Bearer <secret:ACME_LLM_KEY>"},
    }
    assert "ACME_LLM_KEY" in r.err  # the note names the placeholder to fill
    r = run_cli(
        ["export", "onboarding-trainer", "--format", "deepgram", "--reveal-secrets"],
        example,
        {"ACME_LLM_KEY": "sk-gw-0042", "ACME_ORDERS_TOKEN": "tok-1"},
    )
    assert r.code == 0, r.err
    headers = json.loads(r.out)["agent"]["think"]["endpoint"]["headers"]
    assert headers == {"Authorization": "Bearer sk-gw-0042"}
