"""Every error the engine reports: one ``RhaiError`` hierarchy, always with a Rhai position.

Nothing else may escape ``Engine.eval``; a stray Python exception is an engine bug.
"""
from __future__ import annotations

from typing import Any


class RhaiError(Exception):
    """Base of all engine errors. ``kind`` names the Rhai ``EvalAltResult``/``ParseErrorType``."""

    kind = "Error"

    def __init__(self, message: str, line: int = 0, position: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.position = position

    def at(self, line: int, position: int) -> "RhaiError":
        """Attach a source position unless one is already known; returns self for ``raise``."""
        if not self.line:
            self.line, self.position = line, position
        return self

    def __str__(self) -> str:
        if self.line:
            return f"{self.message} (line {self.line}, position {self.position})"
        return self.message


class ParseError(RhaiError):
    """The script does not compile; ``kind`` is Rhai's ParseErrorType (``MalformedIndexExpr``)."""

    def __init__(self, message: str, line: int = 0, position: int = 0,
                 kind: str = "BadInput") -> None:
        super().__init__(message, line, position)
        self.kind = kind


class EvalError(RhaiError):
    """A runtime error. ``kind`` is Rhai's EvalAltResult variant, e.g. ``ErrorArithmetic``."""

    def __init__(self, message: str, line: int = 0, position: int = 0,
                 kind: str = "ErrorRuntime") -> None:
        super().__init__(message, line, position)
        self.kind = kind


class ThrownError(EvalError):
    """A value raised by the script's ``throw``; ``value`` is what was thrown (a Rhai value)."""

    def __init__(self, value: Any, message: str, line: int = 0, position: int = 0) -> None:
        super().__init__(message, line, position, kind="ErrorRuntime")
        self.value = value


class LimitError(EvalError):
    """A safety limit was exceeded; ``limit`` names it (e.g. ``max_operations``)."""

    def __init__(self, limit: str, message: str, line: int = 0, position: int = 0,
                 kind: str = "ErrorTooManyOperations") -> None:
        super().__init__(message, line, position, kind=kind)
        self.limit = limit
