"""`personactl import` against live names and texts it must not trust.

Live personas and tools are made "in the Lab" with a plain HTTP client; the
real CLI imports them from the emulator over HTTP. Covered: file names from
hostile names (traversal, nesting, NUL, collisions), nothing written unless
everything checks out, secrets the state knows about written back as
`secret()` calls, the environment's prefix/suffix, and the messages.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cli_support import EXAMPLE_LLM_KEY, Result, run_inprocess
from e2e_support import KEY, TOKEN, Emulator, edit, emulator, pc

from personactl.manifest.schemas import schema_path

LIV_HOME = "071b0286-4cce-4808-bee2-e642f1062de3"
LUCY = "de23e340-1416-4dd8-977d-065a7ca11697"
SECRET_PIN = "pin-4471-very-secret"
SCHEMA_URL = "https://raw.githubusercontent.com/personactl/personactl/main/schemas"


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[Emulator]:
    with emulator(tmp_path / "emu-data") as e:
        yield e


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch) -> Any:
    """personactl in this process, with the emulator's key and the example's secret set."""

    def _run(project: Path, *args: str, env: dict[str, str] | None = None) -> Result:
        with monkeypatch.context() as m:
            for name in [n for n in os.environ if n.startswith("ACME_") or n == "PIN"]:
                m.delenv(name)
            example = {"EMU_KEY": KEY, "ACME_ORDERS_TOKEN": TOKEN, "ACME_LLM_KEY": EXAMPLE_LLM_KEY}
            for name, value in {**example, **(env or {})}.items():
                m.setenv(name, value)
            m.setenv("NO_COLOR", "1")
            return run_inprocess(list(args), project)

    return _run


def make_live(emu: Emulator, *personas: dict[str, Any]) -> list[str]:
    """Create personas behind personactl's back; their ids, in order."""
    ids = []
    with emu.client() as c:
        for body in personas:
            r = c.post("/v1/personas", json=body)
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
    return ids


def make_tool(emu: Emulator, name: str) -> str:
    with emu.client() as c:
        r = c.post("/v1/tools", json={"name": name, "type": "CLIENT", "description": "Show it"})
        assert r.status_code == 201, r.text
        return str(r.json()["id"])


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (the emulator's database aside) with its content."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "emu-data" not in p.parts
    }


def h8(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:8]


# -- 1. paths ---------------------------------------------------------------------------


def test_live_names_become_safe_file_names_inside_out(
    project: Path, emu: Emulator, tmp_path: Path, run: Any
) -> None:
    names = ["../../../outside/TRAVERSAL", "a/b/c", "a b c", "a-b-c", "..", "Léa"]
    ids = make_live(emu, *({"name": f"t-{n}", "systemPrompt": f"I am {n}."} for n in names))
    (bad,) = make_live(emu, {"name": "t-bad\x00name", "systemPrompt": "NUL"})
    before = snapshot(tmp_path)

    r = run(project, "import", "--all", "--out", "imp")

    assert r.code == 0, r.err
    assert (
        f"Skipped persona 't-bad\\x00name' ({bad}): its name holds the unprintable character "
        "U+0000; rename it in the Lab, then import it again."
    ) in r.err.splitlines()
    stems = ["outside-TRAVERSAL", f"a-b-c-{h8('a/b/c')}", f"a-b-c-{h8('a b c')}"]
    stems += ["a-b-c", "persona", "Lea"]
    assert files_under(project / "imp") == {
        f"{folder}/{stem}{ext}"
        for stem in stems
        for folder, ext in (("personas", ".yaml"), ("prompts", ".md.j2"))
    }
    # Nothing outside --out changed, nothing was written where the traversal pointed.
    after = snapshot(tmp_path)
    assert {k: v for k, v in after.items() if not k.startswith("proj/imp/")} == before
    assert not (tmp_path / "outside").exists()
    # The manifests keep the real names and point at their own prompt files.
    for name, stem, ident in zip(names, stems, ids, strict=True):
        doc = yaml.safe_load((project / "imp" / "personas" / f"{stem}.yaml").read_text())
        assert doc["metadata"]["name"] == name, ident
        assert doc["spec"]["prompt"] == {"file": f"../prompts/{stem}.md.j2"}
        assert (project / "imp" / "prompts" / f"{stem}.md.j2").read_text() == f"I am {name}."
    assert r.out == (
        "Imported 6 resources into imp; not recorded in the state (written outside the "
        "project's root): once among the project's manifests, the next plan matches them by name.\n"
    )


def test_a_name_that_cannot_be_a_manifest_name_is_refused_before_anything_is_written(
    project: Path, emu: Emulator, tmp_path: Path, run: Any
) -> None:
    good, bad = make_live(
        emu,
        {"name": "t-good", "systemPrompt": "Fine."},
        {"name": "t-bad\x00name", "systemPrompt": "NUL"},
    )
    (lead,) = make_live(emu, {"name": "t- spaced", "systemPrompt": "Lead."})
    before = snapshot(tmp_path)

    r = run(project, "import", "--id", good, "--id", bad)
    assert (r.code, r.out) == (1, "")
    assert r.err == (
        f"error: cannot import persona 't-bad\\x00name' ({bad}): its name holds the unprintable "
        "character U+0000; rename it in the Lab, then import it again\n"
    )
    r = run(project, "import", "--id", lead)
    assert (r.code, r.out) == (1, "")
    assert r.err == (
        f"error: cannot import persona 't- spaced' ({lead}): its manifest would be invalid "
        "(metadata.name: ' spaced' must not start or end with white space); rename it in the "
        "Lab, then import it again\n"
    )
    assert snapshot(tmp_path) == before


def test_a_symlink_out_of_the_output_folder_is_refused(
    project: Path, emu: Emulator, tmp_path: Path, run: Any
) -> None:
    make_live(emu, {"name": "t-sam", "systemPrompt": "Sam."})
    (tmp_path / "elsewhere").mkdir()
    (project / "imp").mkdir()
    (project / "imp" / "prompts").symlink_to(tmp_path / "elsewhere")
    before = snapshot(tmp_path)

    r = run(project, "import", "--all", "--out", "imp")

    assert (r.code, r.out) == (1, "")
    assert r.err == (
        f"error: imp/prompts/sam.md.j2 resolves to {tmp_path / 'elsewhere' / 'sam.md.j2'}, "
        "outside imp: import writes only inside its output folder; remove the link or choose "
        "another --out\n"
    )
    assert snapshot(tmp_path) == before


def test_a_file_in_the_way_of_a_folder_is_found_before_anything_is_written(
    project: Path, emu: Emulator, tmp_path: Path, run: Any
) -> None:
    make_live(emu, {"name": "t-sam", "systemPrompt": "Sam."})
    (project / "imp").mkdir()
    (project / "imp" / "prompts").write_text("not a folder\n")
    before = snapshot(tmp_path)

    r = run(project, "import", "--all", "--out", "imp")

    assert (r.code, r.out) == (1, "")
    assert r.err == (
        "error: cannot write imp/prompts/sam.md.j2: imp/prompts is a file, not a folder; "
        "move it away or choose another --out\n"
    )
    assert snapshot(tmp_path) == before


def test_a_failure_after_writing_leaves_disk_and_state_as_they_were(
    applied: Path, emu: Emulator, tmp_path: Path, run: Any
) -> None:
    # The Lab accepts a language code that `validate` rejects: the check of the written
    # manifests fails, and the import is undone.
    make_live(emu, {"name": "t-zed", "languageCode": "zz", "systemPrompt": "Zed."})
    before = snapshot(tmp_path)

    r = run(applied, "import", "--all")

    assert (r.code, r.out) == (1, "")
    assert r.err.splitlines() == [
        "Import undone: planning the manifests it wrote failed, so they were removed.",
        "error: personas/zed.yaml:9:17: languageCode 'zz' is not an ISO 639-1 language code "
        "(e.g. en, fr, de, es, ja)",
    ]
    assert snapshot(tmp_path) == before


def test_names_that_slug_alike_get_the_same_files_on_every_run(
    project: Path, emu: Emulator, run: Any
) -> None:
    make_live(emu, {"name": "t-x/y", "systemPrompt": "1"}, {"name": "t-x:y", "systemPrompt": "2"})
    assert run(project, "import", "--all", "--out", "one").code == 0
    assert run(project, "import", "--all", "--out", "two").code == 0
    expected = {f"personas/x-y-{h8(n)}.yaml" for n in ("x/y", "x:y")}
    assert {f for f in files_under(project / "one") if f.startswith("personas/")} == expected
    assert files_under(project / "one") == files_under(project / "two")


def test_personas_sharing_a_name_are_skipped_by_all_and_pinned_by_id(
    applied: Path, emu: Emulator, run: Any
) -> None:
    first, second = make_live(
        emu, {"name": "t-twin", "systemPrompt": "One."}, {"name": "t-twin", "systemPrompt": "Two."}
    )
    r = run(applied, "import", "--all")
    assert (r.code, r.out) == (0, "Nothing to import.\n")
    assert r.err.splitlines() == [
        f"Skipped persona 't-twin' ({ident}): 2 live personas have that name and a manifest "
        "stands for one; rename them apart in the Lab, or import one with --id."
        for ident in (first, second)
    ]

    r = run(applied, "import", "--id", second)
    assert r.code == 0, r.err
    doc = yaml.safe_load((applied / "personas" / "twin.yaml").read_text())
    assert doc["metadata"] == {"name": "twin", "id": second}
    emu.reset_log()
    r = run(applied, "plan", "--detailed-exitcode")
    assert r.code == 0, r.out + r.err
    assert r.lines[-1] == "Plan: 0 to create, 0 to update, 0 to delete, 11 unchanged."


# -- 2. secrets the state knows about ---------------------------------------------------


def secretive(project: Path) -> None:
    """support-cara's prompt and greeting hold a secret; its tool a webhook token."""
    edit(
        project / "prompts" / "support.md.j2",
        "You are Cara",
        'Your escalation PIN is {{ "{" }}{{ secret("PIN") }}}; never say it.\n\nYou are Cara',
    )
    edit(
        project / "personas" / "support.yaml",
        "How can I help",
        'PIN {{ secret("PIN") }}. How can I help',
    )


def forget_support(project: Path) -> None:
    """The user lost support-cara's files; order-lookup's too."""
    for rel in ("personas/support.yaml", "prompts/support.md.j2", "tools/orders.yaml"):
        (project / rel).unlink()


def test_secrets_in_texts_come_back_as_secret_calls(project: Path, emu: Emulator, run: Any) -> None:
    secretive(project)
    r = pc(project, "apply", "--auto-approve", env={"PIN": SECRET_PIN})
    assert r.code == 0, r.err
    forget_support(project)

    r = run(project, "import", "--name", "t-support-cara", env={"PIN": SECRET_PIN})

    assert r.code == 0, r.err
    assert (
        "Secrets were not written: the manifests read ACME_ORDERS_TOKEN, PIN from the environment."
    ) in r.err.splitlines()
    prompt = (project / "prompts" / "support-cara.md.j2").read_text()
    # A literal `{` before the call is kept out of the tag; the plan below proves the round trip.
    assert prompt.startswith(
        '{% raw %}Your escalation PIN is {{%+ endraw %}{{ secret("PIN") }}}; never say it.\n\n'
        "You are Cara"
    )
    persona = yaml.safe_load((project / "personas" / "support-cara.yaml").read_text())
    assert persona["spec"]["initialMessage"] == (
        'Hi, I\'m Cara from Acme Networks. PIN {{ secret("PIN") }}. How can I help with your '
        "router today?"
    )
    tool = yaml.safe_load((project / "tools" / "order-lookup.yaml").read_text())
    assert tool["spec"]["config"]["headers"]["Authorization"] == (
        'Bearer {{ secret("ACME_ORDERS_TOKEN") }}'
    )
    for path in project.rglob("*"):
        if path.is_file():
            assert SECRET_PIN.encode() not in path.read_bytes(), path
            assert TOKEN.encode() not in path.read_bytes(), path
    assert SECRET_PIN not in r.out + r.err
    assert r.out == (
        "Imported 2 resources into environment 'emu' and recorded them in .personactl/emu.json.\n"
    )
    emu.reset_log()
    r = run(project, "plan", "--detailed-exitcode", env={"PIN": SECRET_PIN})
    assert r.code == 0, r.out + r.err
    assert r.lines[-1] == "Plan: 0 to create, 0 to update, 0 to delete, 10 unchanged."
    assert emu.writes() == []


def test_a_secret_text_changed_in_the_lab_is_written_as_it_is_with_a_warning(
    project: Path, emu: Emulator, run: Any
) -> None:
    secretive(project)
    assert pc(project, "apply", "--auto-approve", env={"PIN": SECRET_PIN}).code == 0
    forget_support(project)
    cara = next(p for p in emu.personas() if p["name"] == "t-support-cara")
    with emu.client() as c:
        r0 = c.put(f"/v1/personas/{cara['id']}", json={"systemPrompt": "New {{ text }}."})
        assert r0.status_code == 200, r0.text

    r = run(project, "import", "--name", "t-support-cara")

    assert r.code == 0, r.err
    assert (project / "prompts" / "support-cara.md.j2").read_text() == (
        "{% raw %}New {{ text }}.{%+ endraw %}"
    )
    assert r.err.splitlines() == [
        "wrote tools/order-lookup.yaml",
        "wrote personas/support-cara.yaml",
        "wrote prompts/support-cara.md.j2",
        # The greeting still fits the text last sent: its secret comes back as a call.
        "Secrets were not written: the manifests read ACME_ORDERS_TOKEN, PIN from the "
        "environment; set PIN to its value before you plan.",
        "Warning: the prompt of persona 'support-cara' held the secret PIN when last applied "
        "and has changed since: it was written as it is, so check prompts/support-cara.md.j2 "
        "for secrets before you commit it.",
        "Names in the manifests leave out the prefix 't-' of environment 'emu'.",
    ]
    assert r.out == (
        "Imported 2 resources; not recorded in the state (PIN not set): once set, the next plan "
        "matches them by name.\n"
    )


# -- 3. the environment's prefix/suffix --------------------------------------------------


def test_import_takes_only_names_with_the_environments_prefix(
    applied: Path, emu: Emulator, run: Any
) -> None:
    crm = make_tool(emu, "crm-card")  # made without the prefix: not the environment's
    sam, bare, other = make_live(
        emu,
        {"name": "t-sales-sam", "avatarId": LIV_HOME, "voiceId": LUCY, "toolIds": [crm]},
        {"name": "sales-sam", "avatarId": LIV_HOME},
        {"name": "other-x"},
    )

    r = run(applied, "import", "--all")

    assert r.code == 0, r.err
    assert r.err.splitlines() == [
        "Skipped 2 personas without the prefix 't-' that environment 'emu' gives its names: "
        "'other-x', 'sales-sam'.",
        "Tool 'crm-card' is referred to by id (no manifest written): it lacks the prefix 't-' "
        "that environment 'emu' gives its names.",
        "wrote personas/sales-sam.yaml",
        "Names in the manifests leave out the prefix 't-' of environment 'emu'.",
    ]
    assert r.out == (
        "Imported 1 resource into environment 'emu' and recorded it in .personactl/emu.json.\n"
    )
    doc = yaml.safe_load((applied / "personas" / "sales-sam.yaml").read_text())
    assert doc["spec"]["tools"] == [{"id": crm}]
    assert not (applied / "tools" / "crm-card.yaml").exists()
    state = json.loads((applied / ".personactl" / "emu.json").read_text())
    assert {e["id"] for e in state["resources"] if e["name"] == "sales-sam"} == {sam}

    emu.reset_log()
    r = run(applied, "plan", "--detailed-exitcode")
    assert r.code == 0, r.out + r.err
    assert r.lines[-1] == "Plan: 0 to create, 0 to update, 0 to delete, 11 unchanged."
    assert emu.writes() == []

    for args in (("--name", "sales-sam"), ("--id", bare)):
        r = run(applied, "import", *args)
        assert (r.code, r.out) == (1, "")
        assert r.err == (
            f"error: cannot import persona 'sales-sam' ({bare}): it lacks the prefix 't-' that "
            "environment 'emu' gives its names, so that environment cannot manage it; import it "
            "into an environment it fits, or rename it in the Lab\n"
        )
    assert other


# -- 4. messages and the schema modeline -------------------------------------------------


def test_one_resource_and_the_schema_modeline(
    project: Path, emu: Emulator, tmp_path: Path, run: Any
) -> None:
    make_live(emu, {"name": "t-mia", "systemPrompt": "Mia."})
    r = run(project, "import", "--all")
    assert r.code == 0, r.err
    assert r.out == (
        "Imported 1 resource into environment 'emu' and recorded it in .personactl/emu.json.\n"
    )
    # No copy of personactl's schemas near the project: the schema's public address.
    first = (project / "personas" / "mia.yaml").read_text().splitlines()[0]
    assert first == f"# yaml-language-server: $schema={SCHEMA_URL}/persona.schema.json"

    # A checkout with schemas/ beside the project (as examples/ has): a relative path.
    (tmp_path / "schemas").mkdir()
    shutil.copy(schema_path("persona"), tmp_path / "schemas" / "persona.schema.json")
    r = run(project, "import", "--all", "--out", "imp")
    assert r.out == "Nothing to import.\n"
    make_live(emu, {"name": "t-noa", "systemPrompt": "Noa."})
    r = run(project, "import", "--all", "--out", "imp")
    assert r.code == 0, r.err
    text = (project / "imp" / "personas" / "noa.yaml").read_text()
    assert text.splitlines()[:2] == [
        "# yaml-language-server: $schema=../../../schemas/persona.schema.json",
        "# Imported by personactl from the live persona.",
    ]
    assert (project / "imp" / "personas" / "../../../schemas/persona.schema.json").is_file()
