"""Security suite: secrets never leak, hostile input is refused fast, the emulator is closed.

Secrets: one unique secret value and one unique API key; every command runs
with --debug in every output format, plans and state are saved, and neither
value appears in any stdout, stderr or file personactl wrote.
"""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import run_cli
from e2e_support import KEY, TOKEN, emulator, make_project, pc

from personactl.core.errors import PersonactlError
from personactl.emulator.server import create_server


def test_no_secret_or_key_appears_anywhere(tmp_path: Path) -> None:
    with emulator(tmp_path / "emu") as emu:
        project = make_project(tmp_path / "proj", emu.url)
        outputs: list[str] = []

        def run(*args: str, ok: tuple[int, ...] = (0,)) -> None:
            r = pc(project, "--debug", *args)
            assert r.code in ok, (args, r.err)
            outputs.extend([r.out, r.err])

        for fmt in ("text", "json", "github"):
            run("validate", "-o", fmt)
        for fmt in ("yaml", "json"):
            run("render", "-o", fmt)
        for fmt in ("text", "json", "markdown"):
            run("plan", "-o", fmt, "--show-requests")
        run("plan", "--out", "plan.json")
        run("apply", "plan.json", "-o", "json")
        # A change to the secret itself: planned and applied without showing it.
        outputs_env = {"ACME_ORDERS_TOKEN": TOKEN + "-rotated"}
        for fmt in ("text", "json", "markdown"):
            r = pc(project, "--debug", "plan", "-o", fmt, "--show-requests", env=outputs_env)
            assert r.code == 0, r.err
            assert "(sensitive)" in r.out
            outputs.extend([r.out, r.err])
        r = pc(project, "--debug", "apply", "--auto-approve", env=outputs_env)
        assert r.code == 0, r.err
        outputs.extend([r.out, r.err])
        run("diff", ok=(0, 2))
        run("state", "list")
        run("state", "show", "order-lookup")
        run("smoke")
        for kind in ("avatars", "voices", "llms", "tools", "knowledge"):
            run("catalog", kind, "-o", "json")
        run("session-config", "support-cara", "--set", "voiceGeneration.speed=1.1")
        run("export", "support-cara", "--target", "deepgram")
        run("export", "support-cara", "--target", "deepgram", "--out", "dg.json")
        run("import", "--all")
        written = [p for p in project.rglob("*") if p.is_file() and "sandbox" not in p.parts]
        assert any(p.name == "emu.json" for p in written)
        assert any(p.name == "plan.json" for p in written)
        for value in (TOKEN, TOKEN + "-rotated", KEY):
            for text in outputs:
                assert value not in text
            for path in written:
                assert value not in path.read_text(errors="replace"), path


def _cap_memory() -> None:
    limit = 512 * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _bomb() -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 12)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (_bomb(), "an alias bomb?"),
        ("x: " + "[" * 100_000 + "]" * 100_000 + "\n", "nested"),
        ("k: &a [*a]\n", "nested more than 64 levels"),
        ("!!python/object/apply:os.system ['echo pwned']\n", "unsupported YAML tag"),
        ("!!python/name:os.system\n", "unsupported YAML tag"),
        ("# " + "x" * (5 * 1024 * 1024), "over the 4,194,304-byte limit"),
    ],
    ids=[
        "billion-laughs",
        "deep-nesting",
        "recursive-alias",
        "object-tag",
        "name-tag",
        "huge-file",
    ],
)
def test_hostile_yaml_is_refused_within_bounded_memory(
    tmp_path: Path, content: str, message: str
) -> None:
    (tmp_path / "personas").mkdir()
    (tmp_path / "personas" / "evil.yaml").write_text(content)
    r = run_cli(["validate"], cwd=tmp_path, subprocess=True, preexec_fn=_cap_memory)
    assert r.code == 1
    assert message in r.out, r.out
    assert "Traceback" not in r.err
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__.os.system('id') }}",
        "{{ joiner.__init__.__globals__ }}",
        "{{ lipsum.__globals__['os'] }}",
        "{{ namespace.__init__.__globals__ }}",
        "{{ ().__class__.__base__.__subclasses__() }}",
        "{{ self._TemplateReference__context }}",
        "{% include '../../../etc/passwd' %}",
        "{% include '/etc/passwd' %}",
        "{% import '../x.j2' as x %}",
        "{{ secret('PATH') | list }}",
    ],
)
def test_template_escapes_are_refused(tmp_path: Path, template: str) -> None:
    (tmp_path / "personas").mkdir()
    (tmp_path / "personas" / "p.yaml").write_text(
        "apiVersion: personactl/v1\nkind: Persona\nmetadata: {name: p}\n"
        f"spec:\n  prompt:\n    text: {template!r}\n"
    )
    r = run_cli(["render", "-o", "json"], cwd=tmp_path, env={"PATH": "/usr/bin:/bin"})
    if "secret('PATH')" in template:
        # secret() works on any variable; its value never shows.
        assert r.code == 0 and "/usr/bin" not in r.out
        return
    assert r.code == 1, r.out
    assert r.err.startswith("error: personas/p.yaml:6:11: ")
    assert any(word in r.err for word in ("unsafe", "outside the project", "undefined"))


def test_emulator_binds_loopback_by_default(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "personactl",
            "emulator",
            "serve",
            "--port",
            "0",
            "--data",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        import httpx

        r = httpx.get(f"{url}/v1/personas")
        assert r.status_code == 401
        assert r.json() == {
            "message": "Invalid or missing API key",
            "error": "Unauthorized",
            "statusCode": 401,
        }
        r = httpx.get(f"{url}/v1/personas", headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    with pytest.raises(PersonactlError, match="refusing to listen on non-loopback host"):
        create_server(lambda e, s: [], "0.0.0.0", 0)
