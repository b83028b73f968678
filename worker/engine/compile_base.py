"""Shared pieces of the compiler: generated-code conventions, variables and function state."""
from __future__ import annotations

import re
from typing import Any

from .nodes import FIELDS, Node
from .values import INT_MAX, INT_MIN

SIMPLE = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*|-?\d+|\(-\d+\))$")
INT_LIT = re.compile(r"^(?:-?\d+|\(-\d+\))$")
BOOL_KINDS = frozenset({"==", "!=", "<", "<=", ">", ">=", "&&", "||", "in", "!in"})
ARITH = {"+": ("+", "_add"), "-": ("-", "_sub"), "*": ("*", "_mul")}
COMPARE = {"==": "_eq", "!=": "_ne", "<": "_lt", "<=": "_le", ">": "_gt", ">=": "_ge"}
INT_OPS = frozenset({"+", "-", "*", "/", "%", "**", "<<", ">>", "&", "|", "^"})
SLOW = {"/": "_div", "%": "_mod", "**": "_pow", "<<": "_shl", ">>": "_shr", "&": "_bit_and",
        "|": "_bit_or", "^": "_bit_xor"}
COMPOUND_SLOW = {"+": "_add_assign", "-": "_sub", "*": "_mul", "/": "_div", "%": "_mod",
                 "**": "_pow", "<<": "_shl", ">>": "_shr", "&": "_bit_and", "|": "_bit_or",
                 "^": "_bit_xor"}
CONTROL = frozenset({"if", "switch", "while", "loop", "for", "block", "try", "break",
                     "continue", "return", "throw"})
RETURN = "<return>"  # control() target: return the value from the generated function
HOIST_NEST = 12  # expression nesting at which sub-results go to temporaries
# generated code starting with these calls the runtime, which may fail: ``ex`` gives it a line
RUNTIME_CALLS = ("_call(", "_call_ref(", "_method(", "_method_at(", "_call_fn_ptr(", "_eval(",
                 "_lookup_scope_var(", "_prop(", "(None if", "((_b", "_global_const(",
                 "_array_literal(", "_map_literal(", "_module_var(", "_module_call(")
MAX_PASSES = 8  # recompilations allowed for the static types to settle, then none are used
DEEP_BLOCKS = 10  # Python loop/try nesting from which loops use one block, not two (max 20)
SMALL = (1 << 30) - 1  # the largest int CPython stores in one digit
LONG_STRING = 1 << 18  # ``s += t`` results longer than this are checked (size and deadline)
# before direct S_ calls: ``_e`` is the callee's ``_d`` (call levels left, at least 1)
ENTER_CHECK = "if not (_e := _d - 1) or (_ops := _ops - {}) <= 0: _enter(_d)"
ENTER_PREFIX = ENTER_CHECK.split("{")[0]
FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "=="}  # ``K op x`` as ``x op' K``


class CompilerBug(Exception):
    """The compiler reached a state it should never be in (reported as an internal error)."""


class Var:
    """A Rhai variable bound to a Python local."""

    __slots__ = ("name", "py", "const", "func", "key")

    def __init__(self, name: str, py: str, const: bool, func: "Func", key: Any = None) -> None:
        self.name, self.py, self.const, self.func, self.key = name, py, const, func, key


class Func:
    """Compilation state of one generated Python function."""

    def __init__(self, parent: "Func | None", nonlocal_slot: int) -> None:
        self.parent = parent
        self.scopes: list[dict[str, Var]] = [{}]
        self.modules: list[dict[str, str]] = [{}]  # import aliases -> Python locals, per scope
        self.nonlocals: set[str] = set()
        self.nonlocal_slot = nonlocal_slot
        self.loops: list[str | None] = []
        self.counters: list[str] = []
        self.ret_int = True
        self.catches: list[str] = []
        self.blocks = 0  # Python loop/try blocks open around the current line



def in_i64(r: str, expr: str) -> str:
    """Test that ``expr`` (stored in ``r``) fits an i64; small values are tested first because
    CPython compares one-digit ints much faster than the 64-bit bounds."""
    return f"(-{SMALL} <= ({r} := {expr}) <= {SMALL} or {INT_MIN} <= {r} <= {INT_MAX})"


def uses_this(node: Any) -> bool:
    """Whether ``this`` appears anywhere inside ``node``."""
    if isinstance(node, Node):
        if node.kind == "this":
            return True
        return any(uses_this(getattr(node, field)) for field in FIELDS[type(node)])
    if isinstance(node, (list, tuple)):
        return any(uses_this(v) for v in node)
    return False


def assigns(node: Any, name: str) -> bool:
    """Whether ``node`` may change the variable ``name``: an assignment to it (or through it),
    a method call or by-reference call on it, or a closure or ``f!()`` call that could."""
    if isinstance(node, Node):
        k = node.kind
        if k == "assign":
            root = node.target
            while root.kind in ("index", "prop"):
                root = root.obj
            if root.kind == "var" and root.name == name:
                return True
        elif k == "method" and node.obj.kind == "var" and node.obj.name == name:
            return True
        elif k == "call" and (node.bang or (node.args and node.args[0].kind == "var"
                                             and node.args[0].name == name)):
            return True
        elif k == "closure":
            return True
        return any(assigns(getattr(node, field), name) for field in FIELDS[type(node)])
    if isinstance(node, (list, tuple)):
        return any(assigns(v, name) for v in node)
    return False
