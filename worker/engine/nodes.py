"""The syntax tree the parser builds and the compiler consumes.

One small class per node kind, with its fields declared (``__slots__`` classes made by
``NodeType``); every node has ``line``/``col`` (its position in the source, for error messages)
and a class-level ``kind`` tag (the short name that error messages and compact tests use). The compiler
dispatches on the node's class (see ``compiler.py``). ``FIELDS[cls]`` lists a class's child
fields, for walks over the whole tree.
"""
from __future__ import annotations

from typing import Any, ClassVar


class NodeType(type):
    """The metaclass of the nodes: each class gets ``__slots__`` for the fields its body
    declares and an ``__init__`` taking all its fields in order (``line``, ``col`` first).

    That is what ``dataclass(slots=True, eq=False)`` gave them, built once per class instead of
    twice and with one small compiled function instead of several: 35 dataclasses cost 15 ms of
    every worker's start (docs/BENCHMARKS.md, start-up). Nodes compare by identity.
    """

    def __new__(mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any]) -> NodeType:
        own = tuple(field for field, annotation in namespace.get("__annotations__", {}).items()
                    if not str(annotation).startswith("ClassVar"))
        namespace["__slots__"] = own
        cls = super().__new__(mcs, name, bases, namespace)
        cls.field_names = tuple(f for base in bases for f in getattr(base, "field_names", ())) + own
        cls.__init__ = _init_for(name, cls.field_names)
        return cls


def _init_for(name: str, field_names: tuple[str, ...]) -> Any:
    """An ``__init__(self, *field_names)`` storing each argument in its slot."""
    body = "".join(f"\n    self.{field} = {field}" for field in field_names) or "\n    pass"
    namespace: dict[str, Any] = {}
    exec(f"def __init__(self, {', '.join(field_names)}):{body}", namespace)
    init = namespace["__init__"]
    init.__qualname__ = f"{name}.__init__"
    return init


class Node(metaclass=NodeType):
    """The base of every syntax-tree node."""

    kind: ClassVar[str] = "node"
    field_names: ClassVar[tuple[str, ...]]
    line: int
    col: int

    def __repr__(self) -> str:
        fields = ", ".join(f"{field}={getattr(self, field)!r}" for field in self.field_names)
        return f"{type(self).__name__}({fields})"


# ---- expressions ----------------------------------------------------------------------------
class Lit(Node):
    """A constant: INT, FLOAT, string, character, bool or ``()`` (None)."""
    kind: ClassVar[str] = "lit"
    value: Any


class Variable(Node):
    """A variable read by name."""
    kind: ClassVar[str] = "var"
    name: str


class This(Node):
    """``this``."""
    kind: ClassVar[str] = "this"


class Interp(Node):
    """A string with ``${...}`` parts: texts (str) and blocks."""
    kind: ClassVar[str] = "interp"
    parts: list


class ArrayLit(Node):
    """``[items]``."""
    kind: ClassVar[str] = "array"
    items: list


class MapLit(Node):
    """``#{key: expr, ...}`` with ``items`` as (key, expr) pairs."""
    kind: ClassVar[str] = "map"
    items: list


class Unary(Node):
    """``-e``, ``+e`` or ``!e``."""
    kind: ClassVar[str] = "unary"
    op: str
    e: Node


class Binary(Node):
    """``l op r``; ``r`` is None in an open range ``a..``."""
    kind: ClassVar[str] = "binary"
    op: str
    l: Node  # noqa: E741
    r: Node | None


class Index(Node):
    """``obj[idx]`` or ``obj?[idx]`` (safe); its position is the index's, ``bracket`` the
    ``[``'s (Rhai reports some errors at one, some at the other)."""
    kind: ClassVar[str] = "index"
    obj: Node
    idx: Node
    safe: bool
    bracket: tuple


class Prop(Node):
    """``obj.name`` or ``obj?.name`` (safe)."""
    kind: ClassVar[str] = "prop"
    obj: Node
    name: str
    safe: bool


class MethodCall(Node):
    """``obj.name(args)`` or ``obj?.name(args)`` (safe)."""
    kind: ClassVar[str] = "method"
    obj: Node
    name: str
    args: list
    safe: bool
    bang: bool


class Call(Node):
    """``name(args)``, or ``name!(args)`` (bang: run in the caller's scope)."""
    kind: ClassVar[str] = "call"
    name: str
    args: list
    bang: bool


class Closure(Node):
    """``|params| body``."""
    kind: ClassVar[str] = "closure"
    params: list
    body: Node


class If(Node):
    """``if cond then else els``; ``els`` is a block, another If, or None."""
    kind: ClassVar[str] = "if"
    cond: Node
    then: Node
    els: Node | None


class Switch(Node):
    """``switch subject { cases, _ => default }``; cases are (patterns, guard, body)."""
    kind: ClassVar[str] = "switch"
    subject: Node
    cases: list
    default: Node | None


class RangeCase(Node):
    """A constant range pattern of a switch case, ``start..end`` or ``start..=end``."""
    kind: ClassVar[str] = "range"
    start: int
    end: int
    inclusive: bool


class Block(Node):
    """``{ stmts }``."""
    kind: ClassVar[str] = "block"
    stmts: list


class While(Node):
    """``while``/``until`` (pre-tested) or ``do { } while/until`` (``post``)."""
    kind: ClassVar[str] = "while"
    cond: Node
    body: Node
    until: bool
    post: bool


class Loop(Node):
    """``loop { body }``."""
    kind: ClassVar[str] = "loop"
    body: Node


class For(Node):
    """``for var in iterable`` or ``for (var, idx) in iterable``; ``breaks``: whether a
    ``break`` in the body leaves this loop (not one of a nested loop)."""
    kind: ClassVar[str] = "for"
    var: str
    idx: str | None
    iterable: Node
    body: Node
    breaks: bool


class QualifiedVar(Node):
    """``root::path::name``: a module variable (``name_line``/``name_col`` locate ``name``)."""
    kind: ClassVar[str] = "qvar"
    root: str
    path: tuple
    name: str
    name_line: int
    name_col: int


class QualifiedCall(Node):
    """``root::path::name(args)``: a module function (``ns_line``/``ns_col`` locate root)."""
    kind: ClassVar[str] = "qcall"
    root: str
    path: tuple
    name: str
    args: list
    ns_line: int
    ns_col: int


class GlobalConst(Node):
    """``global::name``: a constant of the script's top level."""
    kind: ClassVar[str] = "gvar"
    name: str


class PyCode(Node):
    """Compiler-internal: a Python expression already generated (never built by the parser)."""
    kind: ClassVar[str] = "pycode"
    code: str


# ---- control-flow expressions that end a block ------------------------------------------------
class Break(Node):
    """``break`` or ``break value``."""
    kind: ClassVar[str] = "break"
    e: Node | None


class Continue(Node):
    """``continue``."""
    kind: ClassVar[str] = "continue"


class Return(Node):
    """``return`` or ``return value``."""
    kind: ClassVar[str] = "return"
    e: Node | None


class Throw(Node):
    """``throw`` or ``throw value``."""
    kind: ClassVar[str] = "throw"
    e: Node | None


class Try(Node):
    """``try { body } catch (var) { handler }``."""
    kind: ClassVar[str] = "try"
    body: Node
    var: str | None
    handler: Node


# ---- statements -------------------------------------------------------------------------------
class Let(Node):
    """``let name = e`` / ``const name = e``, maybe ``export``ed."""
    kind: ClassVar[str] = "let"
    name: str
    e: Node | None
    const: bool
    exported: bool


class Assign(Node):
    """``target op e`` where op is ``=`` or a compound like ``+=``."""
    kind: ClassVar[str] = "assign"
    target: Node
    op: str
    e: Node


class ExprStmt(Node):
    """An expression used as a statement."""
    kind: ClassVar[str] = "expr"
    e: Node


class Import(Node):
    """``import path as alias``."""
    kind: ClassVar[str] = "import"
    path: Node
    alias: str | None


class Export(Node):
    """``export name as alias``."""
    kind: ClassVar[str] = "export"
    name: str
    alias: str


def start_of(node: Node) -> Node:
    """The node whose position Rhai's ``Expr::start_position`` gives ``node`` (src/ast/expr.rs):
    of ``&&``, ``||`` and ``??`` their left operand's, of an indexing, property or method call
    its object's; any other node its own (an operator's is the operator's)."""
    while True:
        if node.kind == "binary" and node.op in ("&&", "||", "??"):
            node = node.l
        elif node.kind in ("index", "prop", "method"):
            node = node.obj
        else:
            return node


FIELDS: dict[type, tuple[str, ...]] = {
    cls: tuple(f for f in cls.field_names if f not in ("line", "col"))
    for cls in (Lit, Variable, This, Interp, ArrayLit, MapLit, Unary, Binary, Index, Prop,
                MethodCall, Call, Closure, If, Switch, RangeCase, Block, While, Loop, For,
                QualifiedVar, QualifiedCall, GlobalConst, PyCode, Break, Continue, Return,
                Throw, Try, Let, Assign, ExprStmt, Import, Export)}


class FnDef:
    """A script function ``fn name(params) { body }``."""

    __slots__ = ("name", "params", "body", "private", "line", "col")

    def __init__(self, name: str, params: list[str], body: Node, private: bool,
                 line: int, col: int) -> None:
        self.name = name
        self.params = params
        self.body = body
        self.private = private
        self.line = line
        self.col = col


class Script:
    """A parsed script: its top-level statements and its functions by (name, arity)."""

    def __init__(self, stmts: list[Node], fns: dict[tuple[str, int], FnDef]) -> None:
        self.stmts = stmts
        self.fns = fns
