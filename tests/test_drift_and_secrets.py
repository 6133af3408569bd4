"""Drift is never hidden and secrets stay masked: what the state records is exactly what
was sent and what the server answered to it, and anything applied as a secret stays a
sentinel in every output. Real CLI, real HTTP, the emulator behind it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_support import KEY, TOKEN, Emulator, Recorded, edit, emulator, make_project, pc

SUPPORT = "personas/support.yaml"
IGNORE_LINE = "    - voiceDetection.speechEnhancementLevel\n"


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[Emulator]:
    with emulator(tmp_path / "emu-data") as e:
        yield e


def _persona(emu: Emulator, name: str) -> dict[str, Any]:
    summary = next(p for p in emu.personas() if p["name"] == name)
    with emu.client() as c:
        return dict(c.get(f"/v1/personas/{summary['id']}").json())


def _behind_the_back(emu: Emulator, method: str, path: str, body: Any) -> None:
    """A change made in the Lab, straight into the emulator app (safe inside a hook)."""
    transport = httpx.WSGITransport(app=emu.app)  # type: ignore[arg-type]
    with httpx.Client(
        transport=transport, base_url="http://lab", headers={"Authorization": f"Bearer {KEY}"}
    ) as c:
        assert c.request(method, path, json=body).status_code < 300


def test_a_value_ignored_then_unignored_is_drift_not_hidden(applied: Path, emu: Emulator) -> None:
    cara = _persona(emu, "t-support-cara")
    options = {**cara["voiceGenerationOptions"], "speed": 0.9}
    _behind_the_back(emu, "PUT", f"/v1/personas/{cara['id']}", {"voiceGenerationOptions": options})
    path = applied / SUPPORT
    edit(path, IGNORE_LINE, IGNORE_LINE + "    - voiceGeneration.speed\n")
    edit(path, "Tier-1 support", "Tier-2 support")
    r = pc(applied, "apply", "--auto-approve")
    assert r.code == 0, r.err
    edit(path, IGNORE_LINE + "    - voiceGeneration.speed\n", IGNORE_LINE)
    r = pc(applied, "plan", "--detailed-exitcode")
    assert r.code == 2, r.out
    assert '  ~ persona "support-cara": voiceGeneration.speed 1.05 → 0.9' in r.lines, r.out
    assert r.lines[-1] == "Plan: 0 to create, 1 to update, 0 to delete, 9 unchanged."


@pytest.mark.parametrize("step", ["before-lists", "before-get", "before-put"])
def test_an_edit_behind_the_back_at_any_step_of_an_apply_is_never_hidden(
    tmp_path: Path, step: str
) -> None:
    armed: dict[str, bool] = {"on": False}
    box: dict[str, Emulator] = {}

    def hook(req: Recorded) -> None:
        emu = box["emu"]
        at = {
            "before-lists": req.method == "GET" and req.path.startswith("/v1/personas?"),
            "before-get": req.method == "GET" and req.path.startswith("/v1/personas/"),
            "before-put": req.method == "PUT",
        }[step]
        if armed["on"] and at:
            armed["on"] = False
            ident = req.path.split("?")[0].rsplit("/", 1)[-1] if step != "before-lists" else None
            if ident is None:
                summary = next(p for p in emu.personas() if p["name"] == "t-support-cara")
                ident = summary["id"]
            _behind_the_back(
                emu,
                "PUT",
                f"/v1/personas/{ident}",
                {
                    "voiceDetectionOptions": {
                        "endOfSpeechSensitivity": 0.85,
                        "silenceBeforeSessionEndSeconds": 300,
                    }
                },
            )

    with emulator(tmp_path / "emu-data", hook=hook) as emu:
        box["emu"] = emu
        project = make_project(tmp_path / "proj", emu.url)
        assert pc(project, "apply", "--auto-approve").code == 0
        edit(project / SUPPORT, "Tier-1 support", "Tier-2 support")
        armed["on"] = True
        # Under --refresh=auto an unchanged persona is not read: only full has a GET to hit.
        full = ["--refresh=full"] if step == "before-get" else []
        r = pc(project, "apply", "--auto-approve", "--target", "support-cara", *full)
        assert r.code == 0, r.err
        assert not armed["on"], "the edit behind the back never happened"
        live = _persona(emu, "t-support-cara")["voiceDetectionOptions"]["endOfSpeechSensitivity"]
        r = pc(project, "plan", "--detailed-exitcode")
        if step != "before-put":
            # The plan saw it and apply restored the manifest's value with its write.
            assert live == 0.6
            assert r.code == 0, r.out
        else:
            # Landed after apply read the persona, before its write: the write's answer
            # shows it, but it was not sent, so it is not taken as ours: the plan says so.
            assert live == 0.85
            assert r.code == 2, r.out
            assert (
                '  ~ persona "support-cara": voiceDetection.endOfSpeechSensitivity 0.6 → 0.85'
                in r.lines
            ), r.out


def _outputs(project: Path, env: dict[str, str], tmp_path: Path) -> tuple[str, list[str]]:
    """Everything plan writes in every format, and its text lines."""
    text = pc(project, "plan", env=env)
    js = pc(project, "plan", "-o", "json", env=env)
    md = pc(project, "plan", "-o", "markdown", env=env)
    saved = tmp_path / "saved.plan"
    out = pc(project, "plan", "--out", str(saved), env=env)
    for r in (text, js, md, out):
        assert r.code == 0, r.err
    everything = "".join(r.out + r.err for r in (text, js, md, out)) + saved.read_text()
    return everything, text.lines


def test_a_rotated_secret_is_a_change_not_drift(
    applied: Path, emu: Emulator, tmp_path: Path
) -> None:
    env = {"ACME_ORDERS_TOKEN": "rotated-token-0000"}
    everything, lines = _outputs(applied, env, tmp_path)
    assert "Changed outside personactl" not in everything
    assert "      ~ config.headers.Authorization: (sensitive) → (sensitive)" in lines, lines
    assert lines[-1] == "Plan: 0 to create, 1 to update, 0 to delete, 9 unchanged."
    assert TOKEN not in everything and "rotated-token-0000" not in everything


def test_a_local_edit_of_a_secret_bearing_field_is_a_change_not_drift(
    applied: Path, emu: Emulator, tmp_path: Path
) -> None:
    edit(applied / "tools/orders.yaml", "Bearer {{", "Token {{")
    everything, lines = _outputs(applied, {}, tmp_path)
    assert "Changed outside personactl" not in everything
    assert "      ~ config.headers.Authorization: (sensitive) → (sensitive)" in lines, lines
    assert TOKEN not in everything


def test_a_value_applied_as_a_secret_stays_masked_when_the_manifest_drops_secret(
    applied: Path, emu: Emulator, tmp_path: Path
) -> None:
    edit(applied / "tools/orders.yaml", 'Bearer {{ secret("ACME_ORDERS_TOKEN") }}', "Bearer open")
    everything, lines = _outputs(applied, {}, tmp_path)
    assert TOKEN not in everything
    assert "Changed outside personactl" not in everything
    assert "      ~ config.headers.Authorization: (sensitive) → (sensitive)" in lines, lines


def test_a_secret_changed_in_the_lab_is_drift_and_stays_masked(
    applied: Path, emu: Emulator, tmp_path: Path
) -> None:
    tool = next(t for t in emu.tools() if t["name"] == "t-order-lookup")
    config = json.loads(json.dumps(tool["config"]))
    config["headers"]["Authorization"] = "Bearer lab-typed-secret-4242"
    _behind_the_back(emu, "PUT", f"/v1/tools/{tool['id']}", {"config": config})
    everything, lines = _outputs(applied, {}, tmp_path)
    assert "Changed outside personactl since the last apply:" in lines, lines
    assert "lab-typed-secret-4242" not in everything and TOKEN not in everything
    r = pc(applied, "apply", "--auto-approve")
    assert r.code == 0, r.err
    assert pc(applied, "plan", "--detailed-exitcode").code == 0


def test_drift_to_the_manifests_value_is_reported_once_not_after_every_apply(
    applied: Path, emu: Emulator
) -> None:
    cara = _persona(emu, "t-support-cara")
    edit(applied / SUPPORT, "Tier-1 support", "Tier-2 support")
    wanted = cara["description"].replace("Tier-1", "Tier-2")
    _behind_the_back(emu, "PUT", f"/v1/personas/{cara['id']}", {"description": wanted})
    r = pc(applied, "plan")
    assert "Changed outside personactl since the last apply:" in r.lines, r.out
    assert r.lines[-1] == "Plan: 0 to create, 0 to update, 0 to delete, 10 unchanged."
    emu.reset_log()
    assert pc(applied, "apply", "--auto-approve").code == 0
    assert emu.writes() == []  # nothing to send: live is already what the manifest wants
    r = pc(applied, "plan", "--detailed-exitcode")
    assert (r.code, "Changed outside" in r.out) == (0, False), r.out


def test_white_space_around_a_text_is_not_a_change_a_trimming_server_would_undo(
    tmp_path: Path,
) -> None:
    with emulator(tmp_path / "emu-data", normalize_text=True) as emu:
        project = make_project(tmp_path / "proj", emu.url)
        assert pc(project, "apply", "--auto-approve").code == 0
        edit(
            project / SUPPORT,
            "  description: Tier-1 support for {{ company }} routers\n",
            '  description: "Tier-1 support for {{ company }} routers   "\n',
        )
        emu.reset_log()
        r = pc(project, "apply", "--auto-approve")
        assert r.code == 0, r.err
        assert emu.writes() == []  # the server would trim it back: nothing to send
        assert pc(project, "plan", "--detailed-exitcode").code == 0


def test_a_field_reset_after_leaving_the_manifest_is_no_longer_managed(
    applied: Path, emu: Emulator
) -> None:
    edit(applied / SUPPORT, "  description: Tier-1 support for {{ company }} routers\n", "")
    emu.reset_log()
    assert pc(applied, "apply", "--auto-approve").code == 0
    (put,) = emu.writes()
    assert put.body == {"description": ""}  # reset once, to the documented default
    cara = _persona(emu, "t-support-cara")
    _behind_the_back(emu, "PUT", f"/v1/personas/{cara['id']}", {"description": "from the Lab"})
    r = pc(applied, "plan", "--detailed-exitcode")
    assert r.code == 0, r.out  # not reset again: it left the manifest, it is the Lab's now
