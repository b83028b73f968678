"""Shared pieces of the compiler: generated-code conventions, variables and function state."""
from __future__ import annotations

import operator
import re
from typing import Any, Iterable, Iterator

from .nodes import FIELDS, Node
from .values import INT_MAX, INT_MIN

SIMPLE = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*|-?\d+|\(-\d+\))$")
INT_LIT = re.compile(r"^(?:-?\d+|\(-\d+\))$")
TEMP = re.compile(r"^_[tr]\d+$")  # a temporary: its value is final once it is used
BOOL_KINDS = frozenset({"==", "!=", "<", "<=", ">", ">=", "&&", "||", "in", "!in"})
ARITH = {"+": ("+", "_add"), "-": ("-", "_sub"), "*": ("*", "_mul")}
COMPARE = {"==": "_eq", "!=": "_ne", "<": "_lt", "<=": "_le", ">": "_gt", ">=": "_ge"}
INT_OPS = frozenset({"+", "-", "*", "/", "%", "**", "<<", ">>", "&", "|", "^"})
FLOAT_OPS = frozenset({"+", "-", "*", "/"})  # a FLOAT and a FLOAT or INT give a FLOAT (Rhai
# promotes the INT, as Python does), or raise
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
RUNTIME_CALLS = ("_call(", "_call_ref(", "_method(", "_push(", "_method_at(", "_call_fn_ptr(",
                 "_invoke_plain(",
                 "_eval(", "_lookup_scope_var(", "_prop(", "(None if", "_global_const(",
                 "_array_literal(", "_map_literal(", "_module_var(", "_module_call(")
MAX_PASSES = 8  # recompilations allowed for the static types to settle, then none are used
DEEP_BLOCKS = 9  # Python loop/try nesting (the function's own try included) from which loops
# use one block, not two: Python allows 20
SMALL = (1 << 30) - 1  # the largest int CPython stores in one digit
LONG_STRING = 1 << 18  # ``s += t`` results longer than this are checked (size and deadline)
# before direct S_ calls: ``_e`` is the callee's ``_d`` (call levels left, at least 1)
ENTER_CHECK = "if not (_e := _d - 1) or (_ops := _ops - {}) <= 0: _enter(_d)"
ENTER_PREFIX = ENTER_CHECK.split("{")[0]
KEPT_BY_METHODS = (list, str, dict)
"""The static kinds a by-reference call on a variable keeps when nothing it may run can give
the variable a value of another type (``Compiler.call_keeps``); an INT or FLOAT variable is
typed again as for any other assignment."""
THIS_BINDING_BUILTINS = frozenset({"call"})
"""Engine built-ins that run a function pointer with the call's receiver bound to ``this``
(``x.call(fp)``, Rhai's ``make_method_call``, src/func/call.rs: "Handle obj.call(fn_ptr, ...)",
``corefns.fn_call``)."""
FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "=="}  # ``K op x`` as ``x op' K``


class CompilerBug(Exception):
    """The compiler reached a state it should never be in (reported as an internal error)."""


class Var:
    """A Rhai variable bound to a Python local of the generated function ``function``."""

    __slots__ = ("name", "py", "const", "function", "key")

    def __init__(self, name: str, py: str, const: bool, function: "FunctionFrame",
                 key: Any = None) -> None:
        self.name, self.py, self.const, self.function, self.key = name, py, const, function, key


class FunctionFrame:
    """Compile state of one generated Python function (a script function, the script's body,
    a closure or an inlined ``f!()`` call), shared by the block frames in it."""

    __slots__ = ("nonlocals", "nonlocal_slot", "loops", "counters", "ret_int", "ret_list",
                 "catches", "blocks", "nest", "pending", "in_main", "typing", "open_loops",
                 "once", "version", "returns_in_loop")

    def __init__(self, in_main: bool, typing: bool, once: bool = False,
                 version: str = "") -> None:
        self.nonlocals: set[str] = set()  # outer variables it assigns (a ``nonlocal`` line)
        self.nonlocal_slot = 0  # the line that becomes that ``nonlocal`` line
        self.loops: list[str | None] = []  # per enclosing loop: where ``break value`` goes
        self.counters: list[str] = []  # per enclosing counted loop: its iteration counter
        self.ret_int = True  # every value returned so far is an INT
        self.ret_list = True  # every value returned so far is an array
        self.catches: list[str] = []  # per enclosing ``catch``: the exception's local
        # Python loop/try blocks open around the current line; the first is the function's
        # own ``try``/``finally`` that counts loops left early (see ``open_loop``)
        self.blocks = 1
        # per loop of the function, in order: (its "still running" flag, the Python expression
        # for the iterations it has not counted yet), see ``Compiler.open_loop``
        self.open_loops: list[tuple[str, str]] = []
        # a ``return`` inside a loop: a loop may then be left other than by its end or an
        # error, and only a ``finally`` counts it (see ``Compiler.count_loops_on_exit``)
        self.returns_in_loop = False
        self.nest = 0  # expression nesting in the current statement (see HOIST_NEST)
        self.pending = 0  # S_ calls generated but not yet accounted (see ``Compiler.flush``)
        self.in_main = in_main  # the script's body (or a closure in it)
        self.typing = typing  # whether the static INT/array types are used (see MAX_PASSES)
        # the script's own body (not a function or closure): outside loops it runs once per
        # run (see ``Compiler.hot``)
        self.once = once
        # the generated script function (by Python name) it is part of: an F_ and an S_
        # version of one function type the same declarations apart (``Compiler.declare``)
        self.version = version


class Frame:
    """Compile state of one block scope, as Jinja2's ``Frame``: the variables and module
    aliases it declares, the bounds (``facts``) that hold in it, its generated function, and
    the frame it is nested in (lookups go outwards; a closure's root frame chains to the block
    that creates it, whose variables it shares)."""

    __slots__ = ("function", "parent", "symbols", "modules", "facts")

    def __init__(self, function: FunctionFrame, parent: "Frame | None" = None,
                 facts: dict | None = None) -> None:
        self.function = function
        self.parent = parent
        self.symbols: dict[str, Var] = {}
        self.modules: dict[str, str] = {}  # import aliases -> Python locals
        self.facts = {} if facts is None else facts  # declaration key -> (low, high) bounds

    def inner(self) -> "Frame":
        """The root frame of a function generated inside this block (a closure, ``f!()``)."""
        return Frame(FunctionFrame(self.function.in_main, self.function.typing,
                                   version=self.function.version), self)

    def soft(self, facts: dict | None = None) -> "Frame":
        """A block nested in this one, in the same generated function."""
        return Frame(self.function, self, self.facts if facts is None else facts)

    def lookup(self, name: str) -> Var | None:
        """The variable ``name`` as declared here or in the nearest enclosing frame."""
        frame: Frame | None = self
        while frame is not None:
            var = frame.symbols.get(name)
            if var is not None:
                return var
            frame = frame.parent
        return None

    def lookup_module(self, alias: str) -> str | None:
        """The Python local of the module imported as ``alias`` here or further out."""
        return next((frame.modules[alias] for frame in self.chain() if alias in frame.modules),
                    None)

    def chain(self) -> Iterator["Frame"]:
        """This frame and the frames it is nested in, innermost first."""
        frame: Frame | None = self
        while frame is not None:
            yield frame
            frame = frame.parent

    def visible_vars(self) -> dict[str, Var]:
        """The variables in scope here, innermost last (a shadowing one wins)."""
        out: dict[str, Var] = {}
        for frame in reversed(list(self.chain())):
            out.update(frame.symbols)
        return out


def method_names(fn_names: Iterable[str]) -> frozenset[str]:
    """The names a method call may bind to a script function: each function's name, and a
    typed method's (``fn int.calc()``) without its type. A call of any other name goes straight
    to the library (the compiler's in-place ``push``, ``Runtime.method``)."""
    return frozenset(name.rpartition(".")[2] for name in fn_names)


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


def array_sources(node: Any, calls: set[tuple[str, int]]) -> bool:
    """Whether an array literal appears anywhere inside ``node``; adds to ``calls`` the
    (name, arity) of the direct calls inside it. A value is statically an array only through
    one of those (``Compiler.may_return_lists``)."""
    if isinstance(node, Node):
        if node.kind == "call":
            calls.add((node.name, len(node.args)))
        found = node.kind == "array"
        for field in FIELDS[type(node)]:
            found = array_sources(getattr(node, field), calls) or found
        return found
    if isinstance(node, (list, tuple)):
        found = False
        for value in node:
            found = array_sources(value, calls) or found
        return found
    return False


CALLING = frozenset({"call", "qcall", "method", "closure", "this", "throw", "import",
                     "export"})
"""Node kinds that may run code that is not the compiled expression's (functions, closures,
methods, modules), reach ``this``, or hand a value on uncopied (``throw``)."""


def calls_or_throws(node: Any) -> bool:
    """Whether a node of a ``CALLING`` kind appears anywhere inside ``node``."""
    if isinstance(node, Node):
        if node.kind in CALLING:
            return True
        return any(calls_or_throws(getattr(node, field)) for field in FIELDS[type(node)])
    if isinstance(node, (list, tuple)):
        return any(calls_or_throws(v) for v in node)
    return False


def variable_names(node: Any) -> set[str]:
    """The names of the variables read anywhere inside ``node``."""
    if isinstance(node, Node):
        names = {node.name} if node.kind == "var" else set()
        for field in FIELDS[type(node)]:
            names |= variable_names(getattr(node, field))
        return names
    if isinstance(node, (list, tuple)):
        return set().union(*map(variable_names, node)) if node else set()
    return set()


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


def walk(node: Any) -> Iterator[Node]:
    """Every node inside ``node`` (a node or a list or tuple of them), ``node`` included,
    parents before their children (a stack, not nested generators: one step per item)."""
    stack = [node]
    pop, extend, append = stack.pop, stack.extend, stack.append
    children_of = CHILDREN.get
    while stack:
        item = pop()
        children = children_of(type(item))
        if children is not None:
            yield item
            if children[0]:
                extend(children[1](item))
            else:
                append(children[1](item))
        elif type(item) is list or type(item) is tuple:
            extend(item)


CHILDREN = {cls: (len(fields) > 1, operator.attrgetter(*fields) if fields else lambda _: None)
            for cls, fields in FIELDS.items()}
"""Per node class: (whether it has several child fields, the getter of its child field
values: a tuple of them when several), for ``walk``."""


CALL_KINDS = frozenset({"call", "method"})
FOREIGN_KINDS = frozenset({"import", "export", "qcall", "qvar"})
"""Node kinds that bring values of code this compilation does not see (modules)."""
DECLARING_KINDS = frozenset({"let", "for", "try", "closure"})
BLOCK_KINDS = frozenset({"block", "for", "while", "loop"})


def declared_by(node: Node) -> tuple[str, ...]:
    """The names a ``let``, loop, ``catch`` or closure declares."""
    if node.kind == "let":
        return (node.name,)
    if node.kind == "for":
        return (node.var, node.idx) if node.idx else (node.var,)
    if node.kind == "try":
        return (node.var,) if node.var else ()
    return tuple(node.params)


def unused_values(node: Node) -> Iterator[int]:
    """The ids of the expressions whose value nothing uses in a block (a statement's
    followed by another statement) or a loop (the one ending its body)."""
    if node.kind == "block":
        return (id(s.e) for s in node.stmts[:-1] if s.kind == "expr")
    body = node.body
    if body.kind == "block" and body.stmts and body.stmts[-1].kind == "expr":
        return iter((id(body.stmts[-1].e),))
    return iter(())
