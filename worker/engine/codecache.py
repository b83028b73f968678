"""CPython code objects of generated scripts, kept by their Python text.

Compiling a new script is parse + code generation + CPython's ``compile()`` of the generated
Python, and ``compile()`` is about half of it. Scripts that differ only in the number and string
literals they store or pass on (``let amount = 100``, ``transfer("0x…", 100)``: what clients
generate from one template) generate the same Python text, because such literals live in the
constants table (``K_n`` names bound per script, see ``ExpressionCompiler.passed_on``), so the
code compiled for one serves the others.

This is safe by construction: a code object is a function of its text alone, and every script
still gets its own parse, code generation, constants and position table; only the
``compile()`` of a text seen before is skipped. (From the second script of a shape with other
values on, ``shapes.py`` skips parsing and code generation too.) Each script gets its own copy of the code with
its own file name, which ``engine.locate`` uses to find the script's position table.
"""
from __future__ import annotations

import threading
import warnings
from collections import OrderedDict
from types import CodeType

MAX_TEXTS = 128
"""Most texts kept (the least recently used goes first)."""
MAX_TEXT_CHARS = 16 * 1024
"""Longer generated texts are compiled every time: large scripts rarely repeat a shape, and
the cache must stay small in a worker's memory (texts and their code: a few MB at most, well
under 1 MB for scripts of a few lines)."""

_codes: OrderedDict[str, CodeType] = OrderedDict()
_lock = threading.Lock()


def compile_text(text: str, filename: str) -> CodeType:
    """``compile(text, filename, "exec")``, reusing the code of an identical text compiled
    before (renamed to ``filename``). Raises what ``compile()`` raises."""
    with _lock:
        code = _codes.get(text)
        if code is not None:
            _codes.move_to_end(text)
    if code is not None:
        return renamed(code, filename)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = compile(text, filename, "exec")
    if len(text) <= MAX_TEXT_CHARS:
        with _lock:
            _codes[text] = code
            if len(_codes) > MAX_TEXTS:
                _codes.popitem(last=False)
    return code


def renamed(code: CodeType, filename: str) -> CodeType:
    """``code`` and the code objects nested in it with ``co_filename`` set to ``filename``."""
    consts = tuple(renamed(c, filename) if type(c) is CodeType else c for c in code.co_consts)
    return code.replace(co_filename=filename, co_consts=consts)


def forget() -> None:
    """Drop every kept code object (benchmarks measure compiling from scratch with it)."""
    with _lock:
        _codes.clear()
