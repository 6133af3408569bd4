"""Saved plans and state files are bound to their environment, API, state and content:
apply refuses, in one sentence, a plan edited by hand, made for another environment or
API, from another state (lineage) or an older one (serial), or a display plan; plan
refuses a state file recorded for another environment. Real CLI, real HTTP."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from cli_support import run_cli
from e2e_support import KEY, TOKEN, Emulator, edit, emulator, pc, requests_summary


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[Emulator]:
    with emulator(tmp_path / "emu-data") as e:
        yield e


def _second_environment(project: Path, url: str) -> None:
    """An environment `emu2` on the same API with its own prefix and state file."""
    path = project / "personactl.yaml"
    config = yaml.safe_load(path.read_text())
    config["spec"]["environments"]["emu2"] = {
        "backend": "anam",
        "apiUrl": url,
        "apiKeyEnv": "EMU_KEY",
        "namePrefix": "u-",
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))


def test_a_plan_edited_by_hand_is_refused(applied: Path, emu: Emulator, tmp_path: Path) -> None:
    edit(applied / "personas/support.yaml", "speed: 1.05", "speed: 1.1")
    out = tmp_path / "plan.json"
    assert pc(applied, "plan", "--out", str(out)).code == 0
    doc = json.loads(out.read_text())
    assert doc["digest"].startswith("sha256:") and doc["display"] is False
    (cara,) = [c for c in doc["changes"] if c["action"] == "update"]
    cara["request"]["body"]["voiceGenerationOptions"]["speed"] = 2.0
    out.write_text(json.dumps(doc))
    emu.reset_log()
    r = pc(applied, "apply", str(out))
    assert (r.code, r.out) == (1, "")
    assert r.err == (
        f"error: plan file {out} was changed after `personactl plan --out` wrote it (its digest "
        "does not match its content); make it again with `personactl plan --out FILE`\n"
    )
    assert emu.writes() == []


def test_a_plan_edited_to_name_another_environment_is_refused(
    applied: Path, emu: Emulator, tmp_path: Path
) -> None:
    _second_environment(applied, emu.url)
    out = tmp_path / "plan.json"
    assert pc(applied, "plan", "--out", str(out)).code == 0
    doc = json.loads(out.read_text())
    doc["environment"] = "emu2"
    out.write_text(json.dumps(doc))
    r = pc(applied, "apply", str(out))
    assert r.code == 1 and "its digest does not match its content" in r.err
    assert not (applied / ".personactl" / "emu2.json").exists()


def test_a_display_plan_is_refused_with_what_to_do(applied: Path, emu: Emulator) -> None:
    r = pc(applied, "plan", "-o", "json")
    assert json.loads(r.out)["display"] is True
    (applied / "plan.json").write_text(r.out)
    r = pc(applied, "apply", "plan.json")
    assert (r.code, r.err) == (
        1,
        "error: plan.json is a plan to read (from `plan -o json`, secrets masked), not one to "
        "apply: save an applicable plan with `personactl plan --out FILE`\n",
    )


def test_a_plan_for_another_api_url_is_refused(
    applied: Path, emu: Emulator, tmp_path: Path
) -> None:
    out = tmp_path / "plan.json"
    assert pc(applied, "plan", "--out", str(out)).code == 0
    other = emu.url.replace("127.0.0.1", "localhost")
    r = pc(applied, "apply", str(out), "--api-url", other)
    assert (r.code, r.err) == (
        1,
        f"error: plan file {out} was made against {emu.url}, but environment 'emu' now points "
        f"at {other}; make a new one with `personactl plan --out FILE`\n",
    )


def test_a_plan_from_another_state_lineage_is_refused(
    applied: Path, emu: Emulator, tmp_path: Path
) -> None:
    edit(applied / "personas/support.yaml", "speed: 1.05", "speed: 1.1")
    out = tmp_path / "plan.json"
    assert pc(applied, "plan", "--out", str(out)).code == 0
    state = applied / ".personactl" / "emu.json"
    doc = json.loads(state.read_text())
    old = doc["lineage"]
    doc["lineage"] = "00000000-0000-4000-8000-000000000000"
    state.write_text(json.dumps(doc))
    emu.reset_log()
    r = pc(applied, "apply", str(out))
    assert (r.code, r.err) == (
        1,
        f"error: plan file {out} was made from another state (lineage {old}) than environment "
        "'emu' has (00000000-0000-4000-8000-000000000000); make a new one with "
        "`personactl plan --out FILE`\n",
    )
    assert emu.writes() == []


def test_a_plan_made_before_another_apply_is_refused(
    applied: Path, emu: Emulator, tmp_path: Path
) -> None:
    edit(applied / "personas/support.yaml", "speed: 1.05", "speed: 1.1")
    out = tmp_path / "plan.json"
    assert pc(applied, "plan", "--out", str(out)).code == 0
    edit(applied / "personas/concierge-fr.yaml", "languageCode: fr", "languageCode: de")
    assert pc(applied, "apply", "--auto-approve", "--target", "concierge-lea").code == 0
    r = pc(applied, "apply", str(out))
    assert r.code == 1
    assert r.err.startswith("error: the state of environment 'emu' changed since plan file ")
    assert "(serial 1 -> 2)" in r.err


def test_a_first_plan_saved_before_any_state_makes_the_state_its_lineage(
    project: Path, emu: Emulator, tmp_path: Path
) -> None:
    out = tmp_path / "plan.json"
    assert pc(project, "plan", "--out", str(out)).code == 0
    lineage = json.loads(out.read_text())["lineage"]
    assert pc(project, "apply", str(out)).code == 0
    state = json.loads((project / ".personactl" / "emu.json").read_text())
    assert (state["lineage"], state["serial"]) == (lineage, 1)
    assert pc(project, "plan", "--detailed-exitcode").code == 0


def test_a_copy_of_another_environments_state_is_refused(applied: Path, emu: Emulator) -> None:
    _second_environment(applied, emu.url)
    shutil.copy(applied / ".personactl" / "emu.json", applied / ".personactl" / "emu2.json")
    emu.reset_log()
    for command in (["plan"], ["apply", "--auto-approve"]):
        r = pc(applied, *command, "-e", "emu2")
        assert (r.code, r.out) == (1, "")
        assert r.err == (
            "error: state file .personactl/emu2.json belongs to environment 'emu', not 'emu2'; "
            "give environment 'emu2' its own state file in personactl.yaml\n"
        )
    assert emu.writes() == []


def test_prune_of_a_persona_renamed_behind_the_back_shows_its_live_name(
    applied: Path, emu: Emulator
) -> None:
    mia = next(p for p in emu.personas() if p["name"] == "t-onboarding-mia")
    with emu.client() as c:
        c.put(f"/v1/personas/{mia['id']}", json={"name": "mia-in-use-by-sales"})
    text = (applied / "personas/onboarding.yaml").read_text()
    first, second = text.split("\n---\n")
    keep = second if "onboarding-mia" in first else first
    (applied / "personas/onboarding.yaml").write_text(keep)
    r = pc(applied, "plan", "--prune")
    assert r.code == 0, r.err
    assert '  - persona "onboarding-mia" (mia-in-use-by-sales, id ' in r.out, r.out
    assert "Changed outside personactl since the last apply:" in r.lines
    drift = '  ~ persona "onboarding-mia": name "t-onboarding-mia" → "mia-in-use-by-sales"'
    assert drift in r.lines, r.out
    assert TOKEN not in r.out


# -- a selection is not a deletion ------------------------------------------------------


def test_a_target_warns_about_nothing_and_reads_only_what_it_selects(
    applied: Path, emu: Emulator
) -> None:
    emu.reset_log()
    r = pc(applied, "plan", "--target", "concierge-lea", "--refresh=full")
    assert r.code == 0, r.err
    assert "--prune" not in r.out + r.err and "no longer in the manifests" not in r.out + r.err
    gets = [line for line in requests_summary(emu.log) if "/v1/personas/" in line]
    assert gets == ["GET /v1/personas/{id}"]  # concierge-lea only, no orphan reads
    r = pc(applied, "plan", "-l", "team=support", "--prune")
    assert "no longer in the manifests" not in r.out + r.err
    assert "--prune is ignored with --target or -l: nothing will be deleted" in r.out + r.err


def test_a_selector_that_matches_nothing_says_so(applied: Path, emu: Emulator) -> None:
    r = pc(applied, "plan", "-l", "team=nobody")
    assert (r.code, r.out) == (1, "")
    assert r.err.startswith("error: no resource matches -l team=nobody (labels in use: "), r.err
    assert "team=support" in r.err


def test_secrets_are_needed_only_for_the_selected_resources(applied: Path, emu: Emulator) -> None:
    # Only order-lookup uses ACME_ORDERS_TOKEN: nothing else needs it set.
    without_secret = {"EMU_KEY": KEY}
    for args in (
        ["render", "-e", "emu", "end-call"],
        ["render", "-e", "emu", "concierge-lea"],
        ["plan", "--target", "concierge-lea", "--detailed-exitcode"],
    ):
        r = run_cli(args, cwd=applied, env=without_secret)
        assert (r.code, r.err) == (0, ""), args
    r = run_cli(["render", "-e", "emu", "nope"], cwd=applied, env=without_secret)
    assert r.code == 1
    assert r.err.startswith("error: no resource named 'nope' (known: "), r.err
    r = run_cli(["plan", "--target", "support-cara"], cwd=applied, env=without_secret)
    assert r.code == 1 and "ACME_ORDERS_TOKEN" in r.err  # support-cara uses order-lookup
