"""Views of a list of diagnostics: text, JSON and GitHub Actions annotations."""

from __future__ import annotations

import json
from dataclasses import asdict

from personactl.core.errors import Diagnostic


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summary(diags: list[Diagnostic], files_checked: int, skipped: int = 0) -> str:
    if not diags:
        note = f" ({_plural(skipped, 'file')} skipped: no personactl documents)" if skipped else ""
        return f"{_plural(files_checked, 'file')} checked: no errors{note}"
    files = len({d.path for d in diags})
    return f"{_plural(len(diags), 'error')} in {_plural(files, 'file')}"


def text(diags: list[Diagnostic]) -> str:
    return "".join(f"{d}\n" for d in diags)


def as_json(diags: list[Diagnostic]) -> str:
    return json.dumps([asdict(d) for d in diags], indent=2, ensure_ascii=False) + "\n"


def _gh_escape_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_escape_prop(s: str) -> str:
    return _gh_escape_data(s).replace(":", "%3A").replace(",", "%2C")


def github(diags: list[Diagnostic]) -> str:
    """GitHub Actions workflow commands: each error shows on the pull request's diff."""
    return "".join(
        f"::error file={_gh_escape_prop(d.path)},line={d.line},col={d.column},"
        f"title={_gh_escape_prop('personactl ' + d.rule)}::{_gh_escape_data(d.message)}\n"
        for d in diags
    )


def report(diags: list[Diagnostic], fmt: str, checked: int, skipped: int) -> tuple[str, str]:
    """(stdout, stderr) of `validate -o FMT`: the diagnostics in that form, and the
    summary, which is payload in text form and a note beside JSON or annotations."""
    body = as_json(diags) if fmt == "json" else github(diags) if fmt == "github" else text(diags)
    line = summary(diags, checked, skipped) + "\n"
    return (body + line, "") if fmt == "text" else (body, line)
