"""A sandboxed, compiled Rhai script engine in pure Python.

``Engine().eval(source)`` runs a script and returns its value as plain Python data; every
failure is a ``RhaiError`` carrying the Rhai position. See docs/ENGINE.md for the design.
"""
from . import stdlib  # noqa: F401  (fills natives.LIBRARY)
from .engine import CompiledScript, Engine
from .errors import EvalError, LimitError, ParseError, RhaiError, ThrownError
from .values import to_debug, to_display

__all__ = ["CompiledScript", "Engine", "EvalError", "LimitError", "ParseError", "RhaiError",
           "ThrownError", "to_debug", "to_display"]
