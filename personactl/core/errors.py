"""Errors and diagnostics shared by every stage.

A `Diagnostic` is one problem found in the user's files, with its location.
Stages collect diagnostics instead of stopping at the first one; a
`PersonactlError` is raised only when a run cannot go on.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Location:
    path: str
    line: int  # 1-based
    column: int  # 1-based

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


@dataclass(frozen=True, order=True)
class Diagnostic:
    path: str
    line: int
    column: int
    message: str
    rule: str

    @classmethod
    def at(cls, loc: Location, message: str, rule: str) -> Diagnostic:
        return cls(loc.path, loc.line, loc.column, message, rule)

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.message}"


class PersonactlError(Exception):
    """An error the user can act on: printed as one line, exit code 1."""

    def __init__(self, message: str, diagnostics: list[Diagnostic] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.diagnostics = diagnostics or []


class OutcomeUnknown(PersonactlError):
    """A write was perhaps sent and perhaps applied (the connection dropped, a gateway
    answered): a create is looked up by name before it is sent again."""

    def __init__(self, method: str, path: str, reason: str) -> None:
        super().__init__(
            f"the outcome of {method} {path} is unknown ({reason}): it may have been applied; "
            "list by name before sending it again"
        )
        self.method = method
        self.path = path
        self.reason = reason


class ManifestErrors(PersonactlError):
    """One or more problems in the manifests; each diagnostic is printed."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        n = len(diagnostics)
        super().__init__(f"{n} error{'s' if n != 1 else ''} in the manifests", sorted(diagnostics))
