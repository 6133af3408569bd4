"""`personactl init [DIR]`: write a new project that validates and applies as it is."""

from __future__ import annotations

from pathlib import Path

import click

PROJECT = """\
{project_modeline}
apiVersion: personactl/v1
kind: Project
metadata:
  name: {name}
spec:
  manifests:
    - personas/*.yaml
    - tools/*.yaml
  templates:
    - prompts
  vars:
    company: Example Co
  defaultEnvironment: sandbox
  environments:
    # The built-in emulator of the Anam API: no account, no network.
    sandbox:
      backend: sandbox
      namePrefix: "dev-"
    # The Anam API: uncomment, set ANAM_API_KEY, then run `personactl plan -e production`.
    # production:
    #   backend: anam
    #   apiUrl: https://api.anam.ai
    #   apiKeyEnv: ANAM_API_KEY
"""

PERSONA = """\
{persona_modeline}
apiVersion: personactl/v1
kind: Persona
metadata:
  name: assistant
spec:
  description: Answers questions about {{ company }}
  # Names from `personactl catalog avatars`, `catalog voices` and `catalog llms`.
  avatar:
    name: Liv
    variant: home
  avatarModel: cara-3
  voice:
    name: Lucy - Fresh & Casual
  llm:
    name: GPT-4o mini
  languageCode: en
  prompt:
    file: ../prompts/assistant.md.j2
    vars:
      tone: warm and concise
  initialMessage: Hi, I'm Liv from {{ company }}. How can I help?
  voiceGeneration:
    speed: 1.0
"""

PROMPT = """\
You are Liv, an assistant for {{ company }}.

Speak in short, {{ tone }} sentences: people hear you, they do not read you.
When you do not know an answer, say so and offer to find someone who does.
"""

GITIGNORE = """\
# personactl: commit the state files (.personactl/<environment>.json), not these.
.personactl/*.lock
.personactl/*.journal
.personactl/*.history/
.personactl/sandbox/
"""

# (path in the project, what it is, its text)
FILES = (
    ("personactl.yaml", "the project: environments, vars, manifest globs", PROJECT),
    ("personas/assistant.yaml", "a persona", PERSONA),
    ("prompts/assistant.md.j2", "its prompt (a Jinja template)", PROMPT),
    (".gitignore", "keeps locks, journals and the sandbox's data out of git", GITIGNORE),
)


@click.command()
@click.argument(
    "project_dir", required=False, default=".", type=click.Path(path_type=Path), metavar="[DIR]"
)
def init(project_dir: Path) -> None:
    """Start a project in DIR (default: here): personactl.yaml, a persona, its prompt.

    Writes personactl.yaml with a sandbox environment (the built-in emulator:
    no account needed) and a production one to uncomment, a persona in
    personas/, its prompt template in prompts/, and a .gitignore. The YAML
    files carry the yaml-language-server modeline of their JSON Schema.
    Never overwrites a file: if any of them exists, nothing is written.
    """
    from personactl.manifest.schemas import modeline

    targets = [project_dir / rel for rel, _, _ in FILES]
    _check_free(project_dir, targets)
    values = {
        "name": project_dir.resolve().name or "personas",
        "project_modeline": modeline("project", project_dir),
        "persona_modeline": modeline("persona", project_dir / "personas"),
    }
    for path, (_, _, template) in zip(targets, FILES, strict=True):
        path.parent.mkdir(parents=True, exist_ok=True)
        text = template
        for key, value in values.items():  # not str.format: the files hold Jinja's {{ }}
            text = text.replace(f"{{{key}}}", str(value))
        with open(path, "x", encoding="utf-8") as fh:  # "x": never clobber, even in a race
            fh.write(text)
    click.echo(_report(project_dir), nl=False)


def _check_free(project_dir: Path, targets: list[Path]) -> None:
    """Refuse before writing anything if any file is there already."""
    from personactl.core.errors import PersonactlError

    if project_dir.exists() and not project_dir.is_dir():
        raise PersonactlError(f"{project_dir} is a file, not a directory: choose another directory")
    taken = [str(p) for p in targets if p.exists() or p.is_symlink()]
    if taken:
        verb = "exists" if len(taken) == 1 else "exist"
        listed = " and ".join([", ".join(taken[:-1]), taken[-1]] if len(taken) > 1 else taken)
        raise PersonactlError(
            f"{listed} already {verb}: init writes new files only, so nothing was written; "
            "move them away or choose another directory"
        )


def _report(directory: Path) -> str:
    """What was written, and the commands to run next."""
    here = directory == Path(".")
    lines = [f"Wrote a new personactl project in {'this directory' if here else directory}:"]
    lines += _aligned([(rel, what) for rel, what, _ in FILES])
    steps = [] if here else [(f"cd {directory}", "")]
    steps += [
        ("personactl validate", "offline checks"),
        ("personactl apply -e sandbox", "to the built-in emulator: no account needed"),
        ("personactl catalog voices", "voices to choose from (also avatars, llms)"),
        ("export ANAM_API_KEY=...", "then uncomment production in personactl.yaml"),
        ("personactl plan -e production", ""),
    ]
    lines += ["", "Next:"] + _aligned(steps, "# ")
    return "\n".join(lines) + "\n"


def _aligned(rows: list[tuple[str, str]], mark: str = "") -> list[str]:
    """Two columns, the second aligned; a row without a second column is just the first."""
    width = max(len(left) for left, _ in rows) + 2
    return [f"  {left:<{width}}{mark}{right}" if right else f"  {left}" for left, right in rows]
