"""Errors that name what was wrong and where.

Every error a user can cause (a broken scene file, a malformed script, an unknown
sound in a command) is one of these, so the CLI and the server can print or
reply with them without losing the location.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One located problem: file, 1-based line and column, dotted field path, message."""

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        field = f" {self.path}:" if self.path else ""
        return f"{where}{field} {self.message}"


class LocatedError(Exception):
    """A file (scene or script) had one or more problems; all of them are listed."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class CommandError(Exception):
    """A control command could not be carried out; the mixer state is unchanged.

    `code` is stable (documented in docs/protocol.md) so a game can branch on it.
    """

    def __init__(self, code: str, message: str):
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")
