"""The command line a user meets: shared options, global options anywhere, help, and
the small messages (apply cancelled, one 401 for smoke, warnings on stderr)."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from cli_support import Result, run_inprocess
from e2e_support import Emulator, edit, emulator

from personactl.cli import COMMANDS, cli

TOKEN = "orders-token-polish-3c1e"


@pytest.fixture
def sandbox(example: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example project (sandbox backend) with its secret set."""
    monkeypatch.setenv("ACME_ORDERS_TOKEN", TOKEN)
    return example


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[Emulator]:
    with emulator(tmp_path / "emu-data") as e:
        yield e


def flat(text: str) -> str:
    """Help text with its line wrapping undone."""
    return " ".join(text.split())


def all_commands() -> list[tuple[list[str], click.Command]]:
    """Every command as (path, command): ([], cli), (["state"], ...), (["state", "list"], ...)."""
    ctx = click.Context(cli)
    found: list[tuple[list[str], click.Command]] = []

    def walk(cmd: click.Command, path: list[str]) -> None:
        found.append((path, cmd))
        if isinstance(cmd, click.Group):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                assert sub is not None
                walk(sub, [*path, name])

    walk(cli, [])
    return found


def commands_taking(option: str) -> list[str]:
    """The commands (e.g. "state list") with a visible option `option`."""
    return [
        " ".join(path)
        for path, cmd in all_commands()
        if any(option in p.opts and not p.hidden for p in cmd.params if isinstance(p, click.Option))
    ]


# -- 1. shared options: one declaration, one help text ----------------------------------

SHARED_HELP = {
    "--env": "-e, --env NAME Environment from personactl.yaml "
    "(default: defaultEnvironment, else the first).",
    "--api-key": "--api-key KEY API key (default: the variable the environment's apiKeyEnv "
    "names, ANAM_API_KEY unless set otherwise).",
    "--api-url": "--api-url URL Anam API base URL (default: $ANAM_API_URL, else the "
    "environment's apiUrl); not for a sandbox environment.",
    "--parallelism": "--parallelism N Requests in flight at once. [default: 8; 1<=x<=64]",
    "--target": "--target NAME Only this resource (repeatable); the tools it uses, and the "
    "knowledge groups they search, come along.",
    "--selector": "-l, --selector KEY=VALUE Only resources with this label (repeatable).",
    "--prune": "--prune Also delete resources recorded in the state that the manifests no "
    "longer declare (never lifecycle.preventDestroy ones).",
}


STATE = [
    "state history",
    "state list",
    "state mv",
    "state pull",
    "state push",
    "state rm",
    "state show",
    "state unlock",
]
PLANNERS = ["plan", "diff", "apply"]
CONNECTED = [*PLANNERS, "import", "smoke"]
TAKING = {
    "--env": ["render", *CONNECTED, *STATE, "catalog", "session-config", "export"],
    "--api-key": [*CONNECTED, "catalog", "session-config", "export"],
    "--api-url": [*CONNECTED, "catalog", "session-config", "export"],
    "--parallelism": CONNECTED,
    "--target": PLANNERS,
    "--selector": PLANNERS,
    "--prune": PLANNERS,
}


@pytest.mark.parametrize("option", sorted(SHARED_HELP))
def test_a_shared_option_reads_the_same_in_every_command(option: str, tmp_path: Path) -> None:
    # validate's -e has its own meaning; the emulator's --api-key is the key it expects.
    others = {"--env": ["validate"], "--api-key": ["emulator serve"]}.get(option, [])
    assert sorted(commands_taking(option)) == sorted(TAKING[option] + others)
    for path in TAKING[option]:
        r = run_inprocess([*path.split(), "--help"], tmp_path)
        assert r.code == 0, r.err
        assert SHARED_HELP[option] in flat(r.out), (path, r.out)


def test_validate_says_what_its_env_option_means(tmp_path: Path) -> None:
    r = run_inprocess(["validate", "--help"], tmp_path)
    assert "-e, --env NAME Check only this environment (default: every environment)." in flat(r.out)


# -- 2. -C, --debug and --no-color after the subcommand -----------------------------------


def test_directory_after_the_subcommand(example: Path) -> None:
    before = run_inprocess(["-C", example.name, "validate"], example.parent)
    after = run_inprocess(["validate", "-C", example.name], example.parent)
    assert (after.code, after.out, after.err) == (0, before.out, "")
    assert after.out.startswith("10 files checked")
    nested = run_inprocess(["state", "list", "-C", example.name], example.parent)
    assert (nested.code, nested.err) == (0, "No resources recorded in .personactl/sandbox.json.\n")


def test_a_missing_directory_after_the_subcommand_is_a_usage_error(tmp_path: Path) -> None:
    r = run_inprocess(["validate", "-C", "nowhere"], tmp_path)
    assert r.code == 1
    assert r.err.endswith(
        "Error: Invalid value for '-C' / '--directory': Directory 'nowhere' does not exist.\n"
    )


def _requests(err: str) -> list[str]:
    return [re.sub(r"\(\d+ ms\)", "(N ms)", line) for line in err.splitlines()]


def test_debug_after_the_subcommand(sandbox: Path) -> None:
    before = run_inprocess(["--debug", "catalog", "llms"], sandbox)
    after = run_inprocess(["catalog", "llms", "--debug"], sandbox)
    assert after.code == before.code == 0
    assert (
        _requests(after.err)
        == _requests(before.err)
        == ["GET /v1/llms?page=1&perPage=100 -> 200 (N ms)"]
    )
    assert run_inprocess(["catalog", "llms"], sandbox).err == ""


def test_debug_after_the_subcommand_shows_the_traceback(tmp_path: Path) -> None:
    error = (
        "error: no manifests found by personas/**/*.yaml, tools/**/*.yaml, llms/**/*.yaml, "
        "knowledge-groups/**/*.yaml in the current directory (no personactl.yaml found); "
        "run personactl in the project's directory, "
        "point -C at it or start one with `personactl init`\n"
    )
    plain = run_inprocess(["render"], tmp_path)
    assert (plain.code, plain.err) == (1, error)
    debug = run_inprocess(["render", "--debug"], tmp_path)
    assert debug.code == 1
    assert debug.err.startswith("Traceback (most recent call last):\n")
    assert debug.err.endswith(error)


def test_invoked_from_is_where_the_user_ran_personactl(
    example: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(example.parent)
    started = os.getcwd()
    with cli.make_context("personactl", ["-C", example.name, "validate"]) as ctx:
        assert ctx.obj["invoked_from"] == started
        assert Path.cwd() == example
    monkeypatch.chdir(example.parent)
    with cli.make_context("personactl", ["validate", "-C", example.name]) as ctx:
        validate = cli.get_command(ctx, "validate")
        assert validate is not None
        args = ["-C", example.name, "--no-color"]
        with validate.make_context("validate", args, parent=ctx) as sub:
            assert sub.obj["invoked_from"] == started
            assert Path.cwd() == example
            assert sub.obj["color"] is False
            assert ctx.obj is sub.obj


# -- 3. help -------------------------------------------------------------------------------


def test_top_level_help_lists_every_command_in_full(tmp_path: Path) -> None:
    r = run_inprocess(["--help"], tmp_path)
    assert r.code == 0
    assert "(next)" not in r.out
    listed = r.out.split("\nCommands:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    names = [line.split()[0] for line in listed]
    assert names == list(COMMANDS)
    for line in listed:
        assert not line.rstrip().endswith("..."), line


@pytest.mark.parametrize(
    "path", [path for path, _ in all_commands()], ids=lambda p: " ".join(p) or "personactl"
)
def test_every_option_has_help_and_no_summary_is_cut(path: list[str], tmp_path: Path) -> None:
    command = dict((" ".join(p), c) for p, c in all_commands())[" ".join(path)]
    undocumented = [
        p.opts[0]
        for p in command.params
        if isinstance(p, click.Option) and not p.hidden and not (p.help or "").strip()
    ]
    assert undocumented == []
    assert any("--debug" in p.opts for p in command.params)  # and -C, --no-color with it
    r = run_inprocess([*path, "--help"], tmp_path)
    assert r.code == 0, r.err
    if "\nCommands:\n" in r.out:
        assert "..." not in r.out.split("\nCommands:\n", 1)[1]


# -- 7. unknown catalog names point at `personactl catalog` --------------------------------


def test_unknown_voice_avatar_and_llm_point_to_the_catalog(sandbox: Path) -> None:
    edit(sandbox / "personas/support.yaml", "name: Lucy - Fresh & Casual", "name: Lucy")
    edit(sandbox / "personas/support.yaml", "name: GPT-4o mini", "name: GPT-4o mni")
    edit(sandbox / "personas/onboarding.yaml", "variant: desk", "variant: dsk")
    edit(sandbox / "personas/concierge-fr.yaml", "name: Cara\n", "name: Carra\n")
    edit(
        sandbox / "personas/onboarding.yaml",
        "    name: Fish Narrator\n  llm: acme-gateway",
        "    id: 00000000-0000-4000-8000-000000000000\n  llm: acme-gateway",
    )
    r = run_inprocess(["plan"], sandbox)
    assert (r.code, r.out) == (1, "")
    assert r.err.splitlines() == [
        "error: personas/concierge-fr.yaml:11:5: avatar 'Carra' not found in the catalog; "
        "closest: 'Cara'; see `personactl catalog avatars`",
        "error: personas/onboarding.yaml:12:5: avatar 'Mia' variant 'dsk' not found in the "
        "catalog; closest: 'desk'; see `personactl catalog avatars`",
        "error: personas/onboarding.yaml:45:5: voice id '00000000-0000-4000-8000-000000000000' "
        "not found; see `personactl catalog voices`",
        "error: personas/support.yaml:16:5: voice 'Lucy' not found in the catalog; "
        "closest: 'Lucy - Fresh & Casual'; see `personactl catalog voices`",
        "error: personas/support.yaml:18:5: LLM 'GPT-4o mni' not found in the catalog; "
        "closest: 'GPT-4o mini', 'GPT-4o', 'GPT-4.1'; see `personactl catalog llms`",
    ]


# -- 8. smoke with a bad key: one error ------------------------------------------------------


def test_smoke_with_a_rejected_key_fails_once(applied: Path, emu: Emulator) -> None:
    r = run_inprocess(["smoke", "--api-key", "bad-key-0000", "--parallelism", "1"], applied)
    assert r == Result(
        1,
        "",
        f"error: the Anam API at {emu.url} rejected the API key from --api-key "
        "(401 Unauthorized); check the key\n",
    )
    # The first 401 stops the run: no request for the other personas.
    assert [x.path for x in emu.log] == ["/v1/auth/session-token"]
    assert "bad-key-0000" not in r.out + r.err


# -- 9. plan warnings go to stderr -------------------------------------------------------------

PRUNE_WARNINGS = [
    "Warning: Persona 'onboarding-mia' (dev-onboarding-mia) is in the state but no longer in "
    "the manifests; run with --prune to delete it",
    "Warning: Persona 'onboarding-trainer' (dev-onboarding-trainer) is in the state but no "
    "longer in the manifests; run with --prune to delete it",
]


def test_plan_warnings_go_to_stderr_in_text_and_stay_in_markdown_and_json(sandbox: Path) -> None:
    assert run_inprocess(["apply", "--auto-approve"], sandbox).code == 0
    (sandbox / "personas/onboarding.yaml").unlink()
    r = run_inprocess(["plan"], sandbox)
    assert r.code == 0, r.err
    assert "Warning" not in r.out
    assert r.out.splitlines()[-2:] == [
        "No changes. The live resources match the manifests.",
        "Plan: 0 to create, 0 to update, 0 to delete, 8 unchanged.",
    ]
    assert r.err.splitlines() == ["", *PRUNE_WARNINGS]
    md = run_inprocess(["plan", "-o", "markdown"], sandbox)
    assert (md.code, md.err) == (0, "")
    assert "Persona 'onboarding-mia' (dev-onboarding-mia) is in the state" in md.out
    js = run_inprocess(["plan", "-o", "json"], sandbox)
    assert (js.code, js.err) == (0, "")
    assert "\"Persona 'onboarding-mia' (dev-onboarding-mia) is in the state" in js.out
    applied = run_inprocess(["apply", "--auto-approve"], sandbox)
    assert applied.code == 0, applied.err
    assert "Warning" not in applied.out
    assert applied.err.splitlines() == ["", *PRUNE_WARNINGS]


# -- 10. the apply prompt ------------------------------------------------------------------------


def _apply_on_a_terminal(project: Path, answer: str) -> Result:
    """`personactl apply` with a terminal on stdin that types `answer`."""
    master, slave = pty.openpty()
    try:
        os.write(master, answer.encode() + b"\n")
        proc = subprocess.run(
            [sys.executable, "-m", "personactl", "apply"],
            cwd=project,
            env={**os.environ, "NO_COLOR": "1", "ACME_ORDERS_TOKEN": TOKEN},
            stdin=slave,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        os.close(slave)
        os.close(master)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def test_answering_anything_but_yes_cancels_the_apply(example: Path) -> None:
    r = _apply_on_a_terminal(example, "y")
    assert r.code == 1
    assert r.err.endswith("  Enter a value: Apply cancelled.\n")
    assert r.out.splitlines()[-1] == "Plan: 10 to create, 0 to update, 0 to delete, 0 unchanged."
    assert not (example / ".personactl" / "sandbox.json").exists()
    r = _apply_on_a_terminal(example, "yes")
    assert r.code == 0, r.err
    assert r.out.splitlines()[-1] == (
        "Apply complete! Resources: 10 created, 0 updated, 0 deleted, 0 failed."
    )
