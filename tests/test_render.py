"""`personactl render`: composition, Jinja rendering, the sandbox and secrets."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from cli_support import WriteFiles, run_cli

TOKEN = "tok-8c1f5e0b-unique-secret"


def render(root: Path, *args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return run_cli(["render", *args], cwd=root, env=env)


def test_sandbox_render_prefixes_names_and_renders_templates(example: Path) -> None:
    r = render(example, "-e", "sandbox", "-o", "json", env={"ACME_ORDERS_TOKEN": TOKEN})
    assert r.code == 0, r.err
    docs = {d["metadata"]["name"]: d for d in json.loads(r.out)}
    assert sorted(docs) == [
        "acme-gateway",
        "concierge-lea",
        "end-call",
        "onboarding-mia",
        "onboarding-trainer",
        "order-lookup",
        "router-manuals",
        "search-manuals",
        "show-product",
        "support-cara",
    ]
    cara = docs["support-cara"]
    assert cara["metadata"]["anamName"] == "dev-support-cara"
    assert cara["spec"]["description"] == "Tier-1 support for Acme Networks routers"
    assert cara["spec"]["initialMessage"].startswith("Hi, I'm Cara from Acme Networks.")
    prompt = cara["spec"]["prompt"]
    assert prompt.startswith("You are Cara, a tier-1 support agent for the Acme Router X2.\n\n")
    assert "## About Acme Networks\n" in prompt  # the shared partial
    assert "\n\n\n" not in prompt  # includes leave no blank-line runs behind
    hook = docs["order-lookup"]["spec"]["config"]
    assert hook["url"] == "https://orders.sandbox.acme.example/v1/orders/lookup"
    assert hook["headers"] == {"Authorization": "(sensitive)", "X-Source": "personactl"}
    # Anam's own body template is sent verbatim, not rendered by Jinja.
    assert hook["bodyTemplate"] == '{"orderNumber": "{{order_number}}"}'
    assert TOKEN not in r.out + r.err


def test_production_patch_and_default_environment(example: Path) -> None:
    r = render(example, "support-cara", "-e", "production", env={"ACME_ORDERS_TOKEN": TOKEN})
    assert r.code == 0, r.err
    (doc,) = list(yaml.safe_load_all(r.out))
    assert doc["metadata"]["anamName"] == "support-cara"  # production has no prefix
    assert doc["spec"]["voiceGeneration"] == {
        "stability": 0.5,
        "similarityBoost": 0.8,
        "speed": 0.95,
    }
    r = render(example, "support-cara", env={"ACME_ORDERS_TOKEN": TOKEN})
    (doc,) = list(yaml.safe_load_all(r.out))
    assert doc["metadata"]["anamName"] == "dev-support-cara"  # defaultEnvironment: sandbox
    assert doc["spec"]["voiceGeneration"]["speed"] == 1.05


def test_missing_secret_is_an_error_naming_it(example: Path) -> None:
    r = render(example)
    assert r.code == 1
    assert r.out == ""
    assert r.err == (
        "error: tools/orders.yaml:13:22: secret 'ACME_ORDERS_TOKEN' is not set: export "
        "ACME_ORDERS_TOKEN in the environment that runs personactl\n"
    )


def test_secret_in_a_prompt_masks_the_whole_prompt(write: WriteFiles) -> None:
    root = write(
        {
            "personas/p.yaml": """
            apiVersion: personactl/v1
            kind: Persona
            metadata: {name: p}
            spec:
              prompt: {text: "The staff password is {{ secret('STAFF_PW') }}."}
            """,
        }
    )
    r = render(root, env={"STAFF_PW": TOKEN})
    assert r.code == 0, r.err
    assert yaml.safe_load(r.out)["spec"]["prompt"] == "(sensitive)"
    assert TOKEN not in r.out + r.err


def test_unknown_names_and_environments(example: Path) -> None:
    env = {"ACME_ORDERS_TOKEN": TOKEN}
    r = render(example, "support-carla", env=env)
    assert r.code == 1
    assert r.err.startswith(
        "error: no resource named 'support-carla' (known: acme-gateway, concierge-lea, "
    )
    r = render(example, "-e", "qa", env=env)
    assert r.err == (
        "error: unknown environment 'qa' (known: production, sandbox, staging); define it "
        "under spec.environments in personactl.yaml\n"
    )


def test_template_sandbox_refuses_escapes(write: WriteFiles) -> None:
    root = write(
        {
            "prompts/ok.j2": "fine\n",
            "personas/p.yaml": """
            apiVersion: personactl/v1
            kind: Persona
            metadata: {name: p}
            spec:
              description: "{{ ''.__class__.__mro__[1].__subclasses__() }}"
              initialMessage: "{{ cycler.__init__.__globals__.os }}"
              prompt: {text: "{% include '../../etc/passwd' %}"}
            ---
            apiVersion: personactl/v1
            kind: Persona
            metadata: {name: q}
            spec:
              description: "{% include '/etc/passwd' %}"
              prompt: {file: /etc/passwd}
            """,
        }
    )
    r = run_cli(["validate"], cwd=root)
    assert r.lines == [
        "personas/p.yaml:5:16: unsafe template refused: access to attribute '__class__' of "
        "'str' object is unsafe.",
        "personas/p.yaml:6:19: unsafe template refused: access to attribute '__init__' of "
        "'type' object is unsafe.",
        "personas/p.yaml:7:18: template '../../etc/passwd' is outside the project: includes are "
        "relative to the template search path and may not be absolute or use '..'",
        "personas/p.yaml:13:16: template '/etc/passwd' is outside the project: includes are "
        "relative to the template search path and may not be absolute or use '..'",
        "personas/p.yaml:14:18: prompt file '/etc/passwd' is outside the project (.); keep "
        "prompts inside the project",
        "5 errors in 1 file",
    ]


def test_symlink_out_of_the_project_is_refused(write: WriteFiles, tmp_path: Path) -> None:
    outside = tmp_path.parent / f"{tmp_path.name}-outside.txt"
    outside.write_text("secret stuff\n")
    root = write(
        {
            "personas/p.yaml": """
            apiVersion: personactl/v1
            kind: Persona
            metadata: {name: p}
            spec:
              prompt: {text: "{% include 'leak.j2' %}"}
            """,
        }
    )
    (root / "prompts").mkdir()
    (root / "prompts" / "leak.j2").symlink_to(outside)
    r = run_cli(["validate"], cwd=root)
    assert r.lines[0] == ("personas/p.yaml:5:18: template 'leak.j2' resolves outside the project")


def test_yaml_output_uses_block_scalars_for_prompts(example: Path) -> None:
    r = render(example, "concierge-lea", env={"ACME_ORDERS_TOKEN": TOKEN})
    assert r.code == 0, r.err
    assert "  prompt: |\n    Tu es Léa, concierge de Acme Networks." in r.out
