"""Template and prompt files, read within limits: what rendering needs before Jinja.

Kept apart from `sandbox` so that a run whose templates are all plain text and
`{{ name }}` substitutions never imports Jinja (`validate` stays fast).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MAX_TEMPLATE_BYTES = 1024 * 1024
MAX_OUTPUT = 1024 * 1024


class TemplateLimitError(Exception):
    """A template went over a limit. `sized`: the message is a detail of a value
    over MAX_OUTPUT (the caller names the value); else it is the whole sentence."""

    def __init__(self, message: str, sized: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.sized = sized


def _over(n: int, what: str) -> TemplateLimitError:
    return TemplateLimitError(f"{what} would be {n:,} characters long", sized=True)


def check_size(n: int, what: str) -> None:
    if n > MAX_OUTPUT:
        raise _over(n, what)


def _file_kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a directory"),
    ):
        if test(mode):
            return name
    return "not a regular file"  # pragma: no cover - every other type is listed


def file_problem(path: Path, what: str) -> str | None:
    """Why `path` cannot be read as a template (stat only: a FIFO never blocks us)."""
    try:
        st = os.stat(path)
    except OSError:
        return None  # the caller reports a missing file its own way
    return stat_problem(st, what)


def stat_problem(st: os.stat_result, what: str) -> str | None:
    """Why a file with this stat cannot be read as a template."""
    if not stat.S_ISREG(st.st_mode):
        return f"{what} is not a regular file ({_file_kind(st.st_mode)}); point it at a file"
    if st.st_size > MAX_TEMPLATE_BYTES:
        return (
            f"{what} is {st.st_size:,} bytes, over the 1 MiB ({MAX_TEMPLATE_BYTES:,}-byte) "
            "limit for prompt files and templates; shorten it"
        )
    return None


def read_template(path: Path | str) -> bytes:
    """The file, read only up to the limit: one that grew after stat stays bounded."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        # read(n) allocates n bytes up front: ask for the size stat gave, then the rest.
        want = size + 1 if 0 < size <= MAX_TEMPLATE_BYTES else MAX_TEMPLATE_BYTES + 1
        data = f.read(want)
        if len(data) == want and want <= MAX_TEMPLATE_BYTES:
            data += f.read(MAX_TEMPLATE_BYTES + 1 - want)
    if len(data) > MAX_TEMPLATE_BYTES:
        raise TemplateLimitError(
            f"{os.path.relpath(path)} is over the 1 MiB limit for prompt files and templates; "
            "shorten it"
        )
    return data
