"""Every error the engine reports: one ``RhaiError`` hierarchy, always with a Rhai position.

Nothing else may escape ``Engine.eval``; a stray Python exception is an engine bug.
"""
from __future__ import annotations

from typing import Any


class RhaiError(Exception):
    """Base of all engine errors. ``kind`` names the Rhai ``EvalAltResult``/``ParseErrorType``."""

    kind = "Error"
    inner: "RhaiError | None" = None  # for ErrorInFunctionCall: the error inside the call
    # the part of the operation that failed whose position Rhai reports (INDEX, BRACKET,
    # PROPERTY), when the line of generated code it failed in knows it (``Spot``)
    anchor = ""

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


class ScriptExit(BaseException):
    """``exit(value)``: ends the whole run with ``value`` as its result. Not an error, so no
    ``catch`` sees it (a BaseException, like KeyboardInterrupt, so no handler swallows it)."""

    def __init__(self, value: Any) -> None:
        super().__init__("exit")
        self.value = value


class ParseError(RhaiError):
    """The script does not compile; ``kind`` is Rhai's ParseErrorType (``MalformedIndexExpr``).
    Its text starts with "Syntax error:" as Rhai's ``ErrorParsing`` does."""

    def __init__(self, message: str, line: int = 0, position: int = 0,
                 kind: str = "BadInput") -> None:
        super().__init__(message, line, position)
        self.kind = kind

    def __str__(self) -> str:
        return "Syntax error: " + super().__str__()


class EvalError(RhaiError):
    """A runtime error. ``kind`` is Rhai's EvalAltResult variant, e.g. ``ErrorArithmetic``;
    ``fields`` are the variant's data that ``catch`` shows (e.g. ``index``, ``length``)."""

    def __init__(self, message: str, line: int = 0, position: int = 0,
                 kind: str = "ErrorRuntime", fields: dict | None = None) -> None:
        super().__init__(message, line, position)
        self.kind = kind
        self.fields = fields or {}


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


def bounds_error(what: str, index: int, length: int) -> EvalError:
    """An index outside an array, blob or string, worded as Rhai's ``ErrorArrayBounds`` /
    ``ErrorStringBounds`` (src/types/error.rs); a blob's is an array error in Rhai."""
    if what == "String":
        unit, kind = "character", "ErrorStringBounds"
    else:
        what, unit, kind = "Array", "element", "ErrorArrayBounds"
    if length == 0:
        text = f"{what} index {index} out of bounds: {what.lower()} is empty"
    else:
        plural = "" if length == 1 else "s"
        text = (f"{what} index {index} out of bounds: only {length} {unit}{plural} in "
                f"{what.lower()}")
    error = EvalError(text, kind=kind, fields={"length": length, "index": index})
    error.anchor = INDEX  # Rhai reports it at the index
    return error


INDEX = "index"  # an indexing's index expression: its type or bounds were wrong
BRACKET = "bracket"  # an indexing's ``[``: the value indexed has no indexer
PROPERTY = "property"  # a property's name: the value has no such property


class Spot(tuple):
    """The Rhai position ``(line, col)`` of a line of generated code, and ``anchors``: for the
    one indexing or property access on the line, the positions Rhai gives its errors by their
    ``anchor`` (e.g. an index's type at the index, a missing indexer at the ``[``), where the
    line's own position is another (the ``=`` of an assignment storing through a chain)."""

    anchors: dict[str, tuple[int, int]]

    def __new__(cls, line: int, col: int, anchors: dict[str, tuple[int, int]]) -> "Spot":
        spot = super().__new__(cls, (line, col))
        spot.anchors = anchors
        return spot

    def of(self, exc: BaseException) -> tuple[int, int]:
        """The position of ``exc``, an error raised on this line."""
        return self.anchors.get(getattr(exc, "anchor", ""), self)


def mismatch_error(actual: str, expected: str) -> EvalError:
    """Rhai's ``ErrorMismatchDataType``: a value of type ``actual`` where ``expected`` is
    needed (src/api/formatting.rs ``make_type_mismatch_err``)."""
    return EvalError(f"Data type incorrect: {actual} (expecting {expected})",
                     kind="ErrorMismatchDataType")


def index_mismatch_error(actual: str, expected: str) -> EvalError:
    """An index of type ``actual`` where the value indexed takes ``expected`` ones (Rhai
    reports it at the index)."""
    error = mismatch_error(actual, expected)
    error.anchor = INDEX
    return error


def indexer_unavailable(obj: str, idx: str, value: str | None = None) -> EvalError:
    """Rhai's ``ErrorIndexingType``: a value of type ``obj`` that has no indexer (only arrays,
    blobs, maps, strings and INTs have one), read with an index of type ``idx``, or written
    (``value`` the type of the value stored) (src/func/call.rs), at the ``[``."""
    text = f"{obj} [{idx}]" if value is None else f"{obj} [{idx}] = {value}"
    error = EvalError(f"Indexer unavailable: {text}", kind="ErrorIndexingType")
    error.anchor = BRACKET
    return error


def property_error(text: str) -> EvalError:
    """Rhai's ``ErrorDotExpr``: a property neither the map nor a getter/setter has, at the
    property's name."""
    error = EvalError(text, kind="ErrorDotExpr")
    error.anchor = PROPERTY
    return error


def bit_bounds_error(index: int) -> EvalError:
    """A bit index outside an INT's 64 bits (Rhai's ``ErrorBitFieldBounds``)."""
    error = EvalError(f"Bit-field index {index} out of bounds: only 64 bits in bit-field",
                      kind="ErrorBitFieldBounds", fields={"length": 64, "index": index})
    error.anchor = INDEX
    return error


def wrapped_error(exc: RhaiError, text: str, kind: str, fields: dict, line: int = 0,
                  position: int = 0) -> RhaiError:
    """``exc`` inside Rhai's error ``kind`` (``ErrorInFunctionCall``, ``ErrorInModule``) whose
    message is ``text``; a thrown value stays what ``catch`` gets (Rhai's ``unwrap_inner``)."""
    if isinstance(exc, ThrownError):
        wrapped: EvalError = ThrownError(exc.value, text, line, position)
        wrapped.kind, wrapped.fields = kind, fields
    else:
        wrapped = EvalError(text, line, position, kind=kind, fields=fields)
    wrapped.inner = exc.inner or exc
    return wrapped


def in_native_call(name: str, exc: RhaiError) -> RhaiError:
    """Rhai's ``ErrorInFunctionCall(name, "", exc)`` for an error out of the engine's own
    function ``name`` (``eval``, ``range``; src/func/call.rs, src/packages/iter_basic.rs)."""
    return wrapped_error(exc, f"{exc}\nin call to function '{name}'", "ErrorInFunctionCall",
                         {"function": name, "source": ""})
