"""The syntax tree the parser builds and the compiler consumes.

One small class keeps the tree uniform: ``Node(kind, line, col, **fields)``. Kinds and fields:

Expressions: lit(value) var(name) this() interp(parts) array(items) map(items: [(key, expr)])
unary(op, e) binary(op, l, r) index(obj, idx, safe) prop(obj, name, safe)
method(obj, name, args, safe, bang) call(name, args, bang) closure(params, body, name)
if(cond, then, els) switch(subject, cases: [(patterns, guard, body)], default)
block(stmts) while(cond, body, until, post) loop(body) for(var, idx, iterable, body)
qvar(root, path, name, name_line, name_col) qcall(root, path, name, args, ns_line, ns_col):
``root::path::name``
Statements: let(name, e, const, exported) assign(target, op, e) expr(e) return(e) throw(e)
break(e) continue() try(body, var, handler) fn(name, params, body, private)
import(path, alias) export(name, alias)
"""
from __future__ import annotations

from typing import Any


class Node:
    """One syntax-tree node; ``line``/``col`` locate it in the source for error messages."""

    def __init__(self, kind: str, line: int, col: int, **fields: Any) -> None:
        self.kind = kind
        self.line = line
        self.col = col
        self.__dict__.update(fields)

    def __repr__(self) -> str:
        fields = {k: v for k, v in self.__dict__.items() if k not in ("kind", "line", "col")}
        return f"{self.kind}{fields}"


class FnDef:
    """A script function ``fn name(params) { body }``."""

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
