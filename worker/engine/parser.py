"""Recursive-descent / precedence-climbing parser from tokens to ``nodes``.

Nesting depth is counted and capped by ``max_expr_depth`` so that hostile input (thousands of
nested brackets) is a ParseError long before Python's own recursion limit is near.
"""
from __future__ import annotations

from typing import Any

from .budget import CompileBudget
from .errors import ParseError
from .lexer import RESERVED, Token, tokenize
from .nodes import (ArrayLit, Assign, Binary, Block, Break, Call, Closure, Continue, Export,
                    ExprStmt, FnDef, For, GlobalConst, If, Import, Index, Interp, Let, Lit, Loop,
                    MapLit, MethodCall, Node, Prop, QualifiedCall, QualifiedVar, RangeCase, Return,
                    Script, Switch, This, Throw, Try, Unary, Variable, While, start_of)
from .shapes import is_hole, value_type
from .values import INT_MAX, INT_MIN, Char

# Rhai's binary operator precedences (higher binds tighter); ** is right-associative.
PRECEDENCE = {
    "??": 25, "||": 30, "|": 30, "^": 30, "&&": 60, "&": 60, "==": 90, "!=": 90,
    "in": 110, "!in": 110, "<": 130, "<=": 130, ">": 130, ">=": 130, "..": 140, "..=": 140,
    "+": 150, "-": 150, "*": 180, "/": 180, "%": 180, "**": 190, "<<": 210, ">>": 210,
}
ASSIGN_OPS = frozenset({"=", "+=", "-=", "*=", "/=", "%=", "**=", "<<=", ">>=", "&=", "|=", "^="})
BLOCK_ENDED = frozenset({"if", "switch", "while", "loop", "for", "do", "try", "block"})


class Parser:
    """Parses one script (or an interpolated fragment) from a token list."""

    def __init__(self, tokens: list[Token], max_depth: int = 64,
                 budget: CompileBudget | None = None) -> None:
        self.budget = budget or CompileBudget()
        self.toks = tokens
        self.pos = 0
        self.tok = tokens[0]  # the current token, ``toks[pos]`` (an attribute: read per token)
        self.max_depth = max_depth or 10_000
        self.depth = 0
        self.loops: list[bool] = []  # per enclosing loop: whether a break in it leaves it
        self.in_fn = False
        self.at_top = False  # whether the statement being parsed is at the script's top level
        self.fns: dict[tuple[str, int], FnDef] = {}

    # ---- token helpers -------------------------------------------------------------------
    def peek(self, k: int = 1) -> Token:
        return self.toks[min(self.pos + k, len(self.toks) - 1)]

    def next(self) -> Token:
        t = self.tok
        if t.kind != "eof":
            self.pos += 1
            self.tok = self.toks[self.pos]
        return t

    def is_op(self, value: str) -> bool:
        t = self.tok
        return t.kind == "op" and t.value == value

    def is_kw(self, value: str) -> bool:
        t = self.tok
        return t.kind == "kw" and t.value == value

    def error(self, msg: str, tok: Token | None = None, kind: str = "BadInput") -> ParseError:
        t = tok or self.tok
        return ParseError(msg, t.line, t.col, kind=kind)

    def expect_op(self, value: str, kind: str = "MissingToken") -> Token:
        if not self.is_op(value):
            raise self.error(f"Expecting '{value}', found {describe(self.tok)}", kind=kind)
        return self.next()

    def ident(self, what: str = "a variable name") -> Token:
        t = self.tok
        if t.kind != "ident":
            raise self.error(f"Expecting {what}, found {describe(t)}", kind="VariableExpected")
        if t.value in RESERVED:
            raise self.error(f"'{t.value}' is a reserved keyword", kind="Reserved")
        return self.next()

    def enter(self) -> None:
        self.depth += 1
        if self.depth > self.max_depth:
            raise self.error("Expression exceeds maximum complexity (max_expr_depth)",
                             kind="ExprTooDeep")

    # ---- script & statements ---------------------------------------------------------------
    def parse_script(self) -> Script:
        stmts = self.statements(top=True)
        if self.tok.kind != "eof":
            raise self.error(f"Unexpected {describe(self.tok)}")
        return Script(stmts, self.fns)

    def statements(self, top: bool = False) -> list[Node]:
        """Statements up to a closing ``}`` or end of input (not consumed)."""
        out: list[Node] = []
        while True:
            t = self.tok
            if t.kind == "eof" or (t.kind == "op" and t.value == "}"):
                return out
            if t.kind == "op" and t.value == ";":
                self.next()
                continue
            if t.kind == "kw" and t.value in ("fn", "private"):
                if not top:
                    raise self.error("Functions can only be defined at global level",
                                     kind="WrongFnDefinition")
                self.fn_def()
                continue
            self.at_top = top
            self.budget.step()
            stmt = self.statement()
            out.append(stmt)
            t = self.tok
            if t.kind == "op" and t.value == ";":
                self.next()
            elif t.kind == "eof" or (t.kind == "op" and t.value == "}"):
                return out
            elif not ends_with_block(stmt):
                raise self.error(f"Expecting ';' to terminate this statement, found {describe(t)}",
                                 kind="MissingToken")

    def statement(self) -> Node:
        t = self.tok
        if t.kind == "kw":
            v = t.value
            if v in ("let", "const"):
                self.next()
                name = self.ident()
                expr = None
                if self.is_op("="):
                    self.next()
                    expr = self.expr()
                return Let(t.line, t.col, name=name.value, e=expr, const=v == "const",
                            exported=False)
            if v == "import":
                return self.import_stmt()
            if v == "export":
                return self.export(t)
        if (t.kind == "kw" and t.value in STATEMENT_KWS) or (t.kind == "op" and t.value == "{"):
            # as in Rhai, control flow at the start of a statement is a whole statement: in
            # ``if c { 1 } [2].len()`` the array begins the next statement, it is not an index
            self.enter()
            if t.value == "try":  # a statement only (Rhai: ``let x = try ...`` is an error)
                self.next()
                expr = self.try_catch(t)
            else:
                expr = self.primary()
            self.depth -= 1
            return ExprStmt(expr.line, expr.col, e=expr)
        expr = self.expr()
        if self.tok.kind == "op" and self.tok.value in ASSIGN_OPS:
            op_tok = self.next()
            check_lhs(expr, op_tok)
            value = self.expr()
            return Assign(op_tok.line, op_tok.col, target=expr, op=op_tok.value, e=value)
        return ExprStmt(expr.line, expr.col, e=expr)

    def import_stmt(self) -> Node:
        """``import expr [as name]`` (src/parser.rs ``parse_import``): allowed anywhere a
        statement is; the path is any expression (a string at run time)."""
        self.next()
        path = self.expr()
        alias = None
        if self.is_kw("as"):
            self.next()
            alias = self.ident().value
        return Import(path.line, path.col, path=path, alias=alias)

    def export(self, t: Token) -> Node:
        """``export let|const ...`` or ``export x [as y]`` (src/parser.rs ``parse_export``):
        only at the top level. In a module the variable becomes a module variable under its
        name or alias, with its value at the end of the module's script."""
        if not self.at_top:
            raise self.error("Export statement can only appear at global level",
                             kind="WrongExport")
        self.next()
        if self.is_kw("let") or self.is_kw("const"):
            stmt = self.statement()
            stmt.exported = True
            return stmt
        name = self.ident()
        alias = name.value
        if self.is_kw("as"):
            self.next()
            alias = self.ident().value
        return Export(name.line, name.col, name=name.value, alias=alias)

    def fn_def(self) -> None:
        start = self.tok
        private = False
        if self.is_kw("private"):
            private = True
            self.next()
            if not self.is_kw("fn"):
                raise self.error("Expecting 'fn'", kind="MissingToken")
        self.next()
        this_type = None
        if self.tok.kind in ("ident", "str") and self.peek().kind == "op" and \
                self.peek().value == ".":  # ``fn int.calc()``: a method for one type only
            this_type = TYPE_ALIASES.get(self.tok.value, self.tok.value)
            self.next()
            self.next()
        name = self.tok
        if name.kind == "ident" and name.value in KEYWORD_FUNCTIONS:
            raise self.error(f"'{name.value}' is a reserved keyword", kind="Reserved")
        if name.kind != "ident" or name.value in RESERVED:
            raise self.error(f"Expecting a function name, found {describe(name)}",
                             kind="FnMissingName")
        self.next()
        self.expect_op("(", kind="FnMissingParams")
        params: list[str] = []
        while not self.is_op(")"):
            p = self.ident("a parameter name")
            if p.value in params:
                raise self.error(f"Duplicated parameter '{p.value}' in function '{name.value}'",
                                 p, kind="FnDuplicatedParam")
            params.append(p.value)
            if self.is_op(","):
                self.next()
            elif not self.is_op(")"):
                raise self.error(f"Expecting ',' or ')', found {describe(self.tok)}",
                                 kind="MissingToken")
        self.next()
        full_name = f"{this_type}.{name.value}" if this_type else name.value
        key = (full_name, len(params))
        if key in self.fns:
            raise self.error(f"Function '{name.value}' with {len(params)} parameters "
                             "is already defined", name, kind="FnDuplicatedDefinition")
        self.budget.add_function()
        saved = self.loops, self.in_fn
        self.loops, self.in_fn = [], True
        body = self.block()
        self.loops, self.in_fn = saved
        self.fns[key] = FnDef(full_name, params, body, private, start.line, start.col)

    def block(self) -> Node:
        t = self.tok
        if not self.is_op("{"):
            raise self.error(f"Expecting '{{', found {describe(t)}", kind="MissingLeftBrace")
        self.enter()
        self.next()
        stmts = self.statements()
        if not self.is_op("}"):
            raise self.error(f"Expecting '}}', found {describe(self.tok)}",
                             kind="MissingRightBrace")
        self.next()
        self.depth -= 1
        return Block(t.line, t.col, stmts=stmts)

    # ---- expressions -----------------------------------------------------------------------
    def expr(self, min_prec: int = 0) -> Node:
        self.enter()
        left = self.unary()
        while True:
            t = self.tok
            if t.kind == "op" and t.value in PRECEDENCE:
                op = t.value
            elif t.kind == "kw" and t.value == "in":
                op = "in"
            else:
                break
            prec = PRECEDENCE[op]
            if prec < min_prec:
                break
            self.next()
            if op in ("..", "..=") and self.tok.kind == "op" and \
                    self.tok.value in ("]", ")", "}", ",", ";"):
                right = None
            else:
                right = self.expr(prec if op == "**" else prec + 1)
            if op in ("&&", "||"):  # Rhai: ``ensure_bool_expr`` on both operands
                refuse_constant(left, "a boolean expression", BOOL_MISMATCH)
                refuse_constant(right, "a boolean expression", BOOL_MISMATCH)
            left = Binary(t.line, t.col, op=op, l=left, r=right)
        self.depth -= 1
        return left

    def unary(self) -> Node:
        t = self.tok
        if t.kind == "op" and t.value in ("--", "++"):
            raise self.error(f"'{t.value}' is a reserved symbol", kind="Reserved")
        if t.kind == "op" and t.value in ("-", "+", "!"):
            self.next()
            nxt = self.tok
            if t.value == "-" and nxt.kind in ("int", "float") and nxt.line == t.line and \
                    nxt.col == t.col + 1:  # Rhai's tokenizer reads ``-2`` as one number,
                if nxt.radix is not None:  # so ``-2.abs()`` is ``(-2).abs()``; it parses the
                    # text after the minus and radix prefix, which fails for ``-0x1`` ('x1')
                    raise ParseError(f"Invalid number: '{nxt.radix}'", t.line, t.col,
                                     kind="MalformedNumber")
                self.next()
                value = INT_MIN if nxt.kind == "int" and not is_hole(nxt.value) and \
                    nxt.value == INT_MAX + 1 else -nxt.value
                return self.postfix(Lit(t.line, t.col, value=value))
            self.enter()
            operand = self.unary()
            self.depth -= 1
            if t.value in ("-", "+") and operand.kind == "lit" and \
                    value_type(operand.value) in (int, float):
                return Lit(t.line, t.col, value=-operand.value) if t.value == "-" else operand
            return Unary(t.line, t.col, op=t.value, e=operand)
        return self.postfix(self.primary())

    def args(self) -> list[Node]:
        self.expect_op("(")
        return self.comma_list(")")

    def comma_list(self, close: str) -> list[Node]:
        """Expressions separated by commas up to ``close`` (consumed); a trailing comma is fine."""
        items: list[Node] = []
        while not self.is_op(close):
            items.append(self.expr())
            if self.is_op(","):
                self.next()
            elif not self.is_op(close):
                raise self.error(f"Expecting ',' or '{close}', found {describe(self.tok)}",
                                 kind="MissingToken")
        self.next()
        return items

    def postfix(self, node: Node) -> Node:
        while True:
            t = self.tok
            if t.kind != "op":
                return node
            v = t.value
            if v in (".", "?."):
                self.next()
                name = self.tok
                if name.kind not in ("ident", "kw") or (name.kind == "kw" and name.value in (
                        "true", "false", "this")):
                    raise self.error(f"Expecting a property name, found {describe(name)}",
                                     kind="PropertyExpected")
                self.next()
                if self.is_op("::"):
                    raise self.error("Invalid use of '::' after a property", kind="BadInput")
                bang = False
                if self.is_op("!") and self.peek().kind == "op" and self.peek().value == "(":
                    raise self.error("'!' cannot be used in a method call", kind="MalformedCapture")
                if self.is_op("("):
                    self.enter()
                    args = self.args()
                    self.depth -= 1
                    node = MethodCall(name.line, name.col, obj=node, name=name.value,
                                args=args, safe=v == "?.", bang=bang)
                else:
                    if name.value in ("is_shared", "is_def_fn"):  # keyword tokens in Rhai
                        raise ParseError(f"'{name.value}' is a reserved keyword", name.line,
                                         name.col, kind="Reserved")
                    node = Prop(name.line, name.col, obj=node, name=name.value,
                                safe=v == "?.")
            elif v in ("[", "?["):
                self.next()
                self.enter()
                if self.is_op("]"):
                    raise self.error("Expecting an index expression", kind="MalformedIndexExpr")
                idx = self.index_expr()
                self.depth -= 1
                self.expect_op("]", kind="MissingRightBracket")
                check_index(node, idx)
                node = Index(idx.line, idx.col, obj=node, idx=idx, safe=v == "?[",
                             bracket=(t.line, t.col))
            else:
                return node

    def index_expr(self) -> Node:
        """An index, which may be an open range such as ``..``, ``..=2`` or ``1..``."""
        t = self.tok
        if t.kind == "op" and t.value in ("..", "..="):
            self.next()
            start = Lit(t.line, t.col, value=0)
            if self.is_op("]"):
                if t.value == "..=":
                    return Binary(t.line, t.col, op="..", l=start, r=None)
                return Binary(t.line, t.col, op="..", l=start, r=None)
            return Binary(t.line, t.col, op=t.value, l=start, r=self.expr(141))
        return self.expr()

    def primary(self) -> Node:
        t = self.next()
        k, v = t.kind, t.value
        L, C = t.line, t.col
        if k in ("int", "float", "str", "char"):
            if k == "int" and not is_hole(v) and v > INT_MAX:  # 2^63 without a minus is
                v = float(v)  # too large for i64: a FLOAT, as Rhai's tokenizer makes it
            return Lit(L, C, value=v)
        if k == "interp":
            parts: list[Any] = []
            for part in v:
                if isinstance(part, str):
                    parts.append(part)
                else:
                    sub = Parser(part, self.max_depth, self.budget)
                    sub.depth = self.depth
                    sub.loops, sub.in_fn = self.loops, self.in_fn
                    stmts = sub.statements()
                    if sub.tok.kind != "eof":
                        raise sub.error(f"Unexpected {describe(sub.tok)}")
                    parts.append(Block(L, C, stmts=stmts))
            return Interp(L, C, parts=parts)
        if k == "kw" and v == "global" and self.is_op("::"):
            self.next()
            name = self.ident()
            return GlobalConst(L, C, name=name.value)
        if k == "ident":
            if v in RESERVED:
                raise ParseError(f"'{v}' is a reserved keyword", L, C, kind="Reserved")
            if self.is_op("::"):
                return self.qualified(t)
            if self.is_op("!") and self.peek().kind == "op" and self.peek().value == "(":
                self.next()
                self.enter()
                args = self.args()
                self.depth -= 1
                return Call(L, C, name=v, args=args, bang=True)
            if self.is_op("("):
                self.enter()
                args = self.args()
                self.depth -= 1
                return Call(L, C, name=v, args=args, bang=False)
            return Variable(L, C, name=v)
        if k == "op":
            if v == "(":
                if self.is_op(")"):
                    self.next()
                    return Lit(L, C, value=None)
                e = self.expr()
                self.expect_op(")", kind="MissingRightParen")
                return e
            if v == "[":
                return ArrayLit(L, C, items=self.comma_list("]"))
            if v == "#{":
                return self.map_literal(t)
            if v == "{":
                self.pos -= 1
                self.tok = t
                return self.block()
            if v in ("|", "||"):
                return self.closure(t)
        if k == "kw":
            if v == "true" or v == "false":
                return Lit(L, C, value=v == "true")
            if v == "this":
                return This(L, C)
            if v == "if":
                return self.if_expr(t)
            if v == "switch":
                return self.switch(t)
            if v == "while":
                return self.while_loop(t, until=False)
            if v == "loop":
                self.loops.append(False)
                body = self.block()
                self.loops.pop()
                return Loop(L, C, body=body)
            if v == "do":
                self.loops.append(False)
                body = self.block()
                self.loops.pop()
                if not (self.is_kw("while") or self.is_kw("until")):
                    raise self.error("Expecting 'while' or 'until'", kind="MissingToken")
                until = self.next().value == "until"
                cond = self.condition()
                return While(L, C, cond=cond, body=body, until=until, post=True)
            if v == "for":
                return self.for_loop(t)
            if v == "try":
                raise ParseError("Unexpected 'try'", L, C, kind="BadInput")
            if v in ("break", "continue"):
                if not self.loops:
                    raise ParseError(f"'{v}' not inside a loop", L, C, kind="LoopBreak")
                if v == "break":
                    self.loops[-1] = True
                e = None
                if v == "break" and self.starts_expr():
                    e = self.expr()
                return Break(L, C, e=e) if v == "break" else Continue(L, C)
            if v in ("return", "throw"):
                e = self.expr() if self.starts_expr() else None
                return Return(L, C, e=e) if v == "return" else Throw(L, C, e=e)
            if v == "fn":
                raise ParseError("Functions can only be defined at global level", L, C,
                                 kind="WrongFnDefinition")
            if v in ("import", "export"):
                raise ParseError(f"'{v}' is not allowed here", L, C,
                                 kind="WrongExport" if v == "export" else "BadInput")
        if k == "eof":
            raise ParseError("Script is incomplete", L, C, kind="UnexpectedEOF")
        raise ParseError(f"Unexpected {describe(t)}", L, C, kind="BadInput")

    def qualified(self, root: Token) -> Node:
        """``m::x`` / ``m::sub::x`` (a module variable) or ``m::f(..)`` (a module function)."""
        names = []
        while self.is_op("::"):
            self.next()
            names.append(self.ident("a name after '::'"))
        path = tuple(name.value for name in names[:-1])
        last = names[-1]
        if self.is_op("("):
            self.enter()
            args = self.args()
            self.depth -= 1
            return QualifiedCall(last.line, last.col, root=root.value, path=path,
                        name=last.value, args=args, ns_line=root.line, ns_col=root.col)
        return QualifiedVar(root.line, root.col, root=root.value, path=path, name=last.value,
                    name_line=last.line, name_col=last.col)

    def starts_expr(self) -> bool:
        t = self.tok
        if t.kind == "eof":
            return False
        if t.kind == "op":
            return t.value not in (";", "}", ")", "]", ",")
        return not (t.kind == "kw" and t.value in ("else", "catch"))

    def map_literal(self, t: Token) -> Node:
        items: list[tuple[str, Node]] = []
        seen: set[str] = set()
        while not self.is_op("}"):
            key = self.next()
            if key.kind == "ident" or key.kind == "str" or key.kind == "kw":
                name = key.value
            else:
                raise self.error(f"Expecting a property name, found {describe(key)}", key,
                                 kind="PropertyExpected")
            if name in seen:
                raise self.error(f"Duplicated property '{name}'", key, kind="DuplicatedProperty")
            seen.add(name)
            self.expect_op(":", kind="MissingToken")
            items.append((name, self.expr()))
            if self.is_op(","):
                self.next()
            elif not self.is_op("}"):
                raise self.error(f"Expecting ',' or '}}', found {describe(self.tok)}",
                                 kind="MissingToken")
        self.next()
        return MapLit(t.line, t.col, items=items)

    def closure(self, t: Token) -> Node:
        params: list[str] = []
        if t.value == "|":
            while not self.is_op("|"):
                p = self.ident("a parameter name")
                if p.value in params:
                    raise self.error(f"Duplicated parameter '{p.value}'", p,
                                     kind="FnDuplicatedParam")
                params.append(p.value)
                if self.is_op(","):
                    self.next()
                elif not self.is_op("|"):
                    raise self.error(f"Expecting ',' or '|', found {describe(self.tok)}",
                                     kind="MissingToken")
            self.next()
        self.budget.add_function()
        saved = self.loops
        self.loops = []
        if self.is_op("{"):
            body = self.expr()
        else:
            stmt = self.statement()
            body = Block(stmt.line, stmt.col, stmts=[stmt])
        self.loops = saved
        return Closure(t.line, t.col, params=params, body=body)

    def if_expr(self, t: Token) -> Node:
        cond = self.condition()
        then = self.block()
        els = None
        if self.is_kw("else"):
            self.next()
            if self.is_kw("if"):
                els = self.if_expr(self.next())
            else:
                els = self.block()
        return If(t.line, t.col, cond=cond, then=then, els=els)

    def while_loop(self, t: Token, until: bool) -> Node:
        cond = self.condition()
        self.loops.append(False)
        body = self.block()
        self.loops.pop()
        return While(t.line, t.col, cond=cond, body=body, until=until, post=False)

    def for_loop(self, t: Token) -> Node:
        idx = None
        if self.is_op("("):
            self.next()
            var = self.ident().value
            self.expect_op(",", kind="MissingToken")
            idx = self.ident().value
            self.expect_op(")", kind="MissingRightParen")
        else:
            var = self.ident().value
        if not self.is_kw("in"):
            raise self.error("Expecting 'in' in the 'for' statement", kind="MissingToken")
        self.next()
        iterable = self.expr()
        refuse_constant(iterable, "an iterable value", ITERABLE_MISMATCH)
        self.loops.append(False)
        body = self.block()
        breaks = self.loops.pop()
        return For(t.line, t.col, var=var, idx=idx, iterable=iterable, body=body, breaks=breaks)

    def try_catch(self, t: Token) -> Node:
        body = self.block()
        if not self.is_kw("catch"):
            raise self.error("Expecting 'catch'", kind="MissingToken")
        self.next()
        var = None
        if self.is_op("("):
            self.next()
            var = self.ident().value
            self.expect_op(")", kind="MissingRightParen")
        handler = self.block()
        return Try(t.line, t.col, body=body, var=var, handler=handler)

    def condition(self) -> Node:
        """An expression used as a condition: a constant of another type than bool is a
        parse error in Rhai (``ensure_bool_expr`` in src/parser.rs)."""
        cond = self.expr()
        refuse_constant(cond, "a boolean expression", BOOL_MISMATCH)
        return cond

    def switch(self, t: Token) -> Node:
        subject = self.expr()
        self.expect_op("{", kind="MissingLeftBrace")
        cases: list[tuple[list[Node], Node | None, Node]] = []
        default = None
        has_range = False
        while not self.is_op("}"):
            if default is not None:
                raise self.error("Default case must be the last case",
                                 kind="WrongSwitchDefaultCase")
            start = self.tok
            if start.kind == "ident" and start.value == "_":
                self.next()
                if self.is_kw("if"):
                    raise self.error("The default case cannot have a condition",
                                     kind="WrongSwitchCaseCondition")
                self.expect_op("=>", kind="MissingToken")
                default, ends_in_block = self.switch_action()
            else:
                patterns = [self.switch_pattern()]
                while self.is_op("|"):
                    self.next()
                    patterns.append(self.switch_pattern())
                for p in patterns:  # Rhai (src/parser.rs): no numeric case after a range
                    if p.kind == "range":
                        has_range = has_range or not _empty_range(p)
                    elif has_range and value_type(p.value) in (int, float):
                        raise ParseError("Numeric switch case cannot follow a range case",
                                         p.line, p.col,
                                         kind="WrongSwitchIntegerCase")
                guard = None
                if self.is_kw("if"):
                    self.next()
                    guard = self.condition()
                self.expect_op("=>", kind="MissingToken")
                action, ends_in_block = self.switch_action()
                cases.append((patterns, guard, action))
            if self.is_op(","):
                self.next()
            elif not self.is_op("}") and not ends_in_block:
                raise self.error("Expecting ',' to separate the items in this switch block",
                                 kind="MissingToken")
        self.next()
        return Switch(t.line, t.col, subject=subject, cases=cases, default=default)

    def switch_action(self) -> tuple[Node, bool]:
        """A case's action, which Rhai parses as a statement (src/parser.rs ``parse_switch``):
        an expression statement gives its value; any other (``s += 1``, ``let x = 1``) runs in
        a block of its own and gives ``()``. Also whether the statement ends in a block
        (``if``, ``{ }``, loops, ...): only then may the comma after it be left out."""
        stmt = self.statement()
        if type(stmt) is ExprStmt:
            return stmt.e, ends_with_block(stmt)
        return Block(stmt.line, stmt.col, stmts=[stmt]), False

    def switch_pattern(self) -> Node:
        t = self.tok
        e = self.expr(131)  # above comparison: literals and ranges only
        if e.kind == "binary" and e.op in ("..", "..=") and e.l.kind == "lit" and \
                e.r is not None and e.r.kind == "lit" and value_type(e.l.value) is int and \
                value_type(e.r.value) is int:
            return RangeCase(t.line, t.col, start=e.l.value, end=e.r.value,
                        inclusive=e.op == "..=")
        if e.kind != "lit":
            raise ParseError("Switch case values must be constants", t.line, t.col,
                             kind="ExprExpected")
        return e


_CONSTANT_TYPES = {type(None): "()", bool: "a boolean", int: "a number",
                   float: "a floating-point number", Char: "a character", str: "a string"}
BOOL_MISMATCH = frozenset({"()", "a number", "a floating-point number", "a character",
                           "a string", "an array", "an object map"})
ITERABLE_MISMATCH = frozenset({"()", "a boolean", "a number", "a floating-point number",
                               "a character", "an object map"})


def refuse_constant(e: Node, expected: str, mismatches: frozenset) -> None:
    """Rhai's ``ensure_bool_expr`` / ``ensure_iterable``: a constant that can never be what the
    statement needs is a ``MismatchedType`` parse error."""
    if e.kind == "lit":
        found = _CONSTANT_TYPES.get(value_type(e.value))
    else:
        found = {"interp": "a string", "array": "an array", "map": "an object map"}.get(e.kind)
    if found in mismatches:
        raise ParseError(f"Expecting {expected}, not {found}", e.line, e.col,
                         kind="MismatchedType")


def _empty_range(p: Node) -> bool:
    """A range case that can match nothing, which Rhai leaves out of its range list."""
    return p.start >= p.end if not p.inclusive else p.start > p.end


def describe(t: Token) -> str:
    """A token as an error message mentions it."""
    if t.kind == "eof":
        return "end of script"
    if t.kind in ("op", "kw"):
        return f"'{t.value}'"
    if t.kind == "ident":
        return f"'{t.value}'"
    return f"{t.kind} literal"


# functions the engine itself provides, which Rhai's tokenizer reserves: no script may define
# one (src/tokenizer.rs ``is_reserved_keyword_or_symbol``, plus the ``is_def_fn``/``is_shared``
# keywords)
KEYWORD_FUNCTIONS = frozenset({"print", "debug", "type_of", "eval", "Fn", "call", "curry",
                               "is_def_var", "is_def_fn", "is_shared"})
# ``fn int.name()`` / ``fn float.name()`` name the types as ``type_of`` does
TYPE_ALIASES = {"int": "i64", "float": "f64"}
STATEMENT_KWS = frozenset({"if", "switch", "while", "loop", "do", "for", "try"})


def ends_with_block(stmt: Node) -> bool:
    """Statements ending in a block need no ``;`` after them."""
    if stmt.kind == "expr":
        e = stmt.e
        if e.kind == "while" and e.post:
            return False
        return e.kind in BLOCK_ENDED
    return False


def check_lhs(expr: Node, op: Token) -> None:
    """Only variables, properties and indexing may be assigned to."""
    if expr.kind == "lit" or (expr.kind == "var" and False):
        raise ParseError("Cannot assign to a constant value", op.line, op.col,
                         kind="AssignmentToConstant")
    node = expr
    if node.kind not in ("var", "index", "prop", "this", "qvar"):
        raise ParseError("Invalid left-hand side of an assignment", op.line, op.col,
                         kind="AssignmentToInvalidLHS")
    while node.kind in ("index", "prop"):
        node = node.obj
    if node.kind not in ("var", "this", "index", "prop", "qvar"):
        raise ParseError("Invalid left-hand side of an assignment", op.line, op.col,
                         kind="AssignmentToInvalidLHS")


# What Rhai's parser calls an index of each kind, by the type of a literal (``None``: ``()``).
LITERAL_INDEX_NAMES = {int: "a number", float: "a float", str: "a string", Char: "a character",
                       bool: "a boolean", type(None): "()"}


def check_index(obj: Node, idx: Node) -> None:
    """Rhai's parse-time check of the first index of a chain on a literal
    (``parse_index_chain``'s ``check_argument_types``, src/parser.rs): an INT, array or string
    literal takes only INT indexes and a map literal only string ones, so a literal index of
    another type (a ``&&``/``||`` counts as a boolean) is a ``MalformedIndexExpr`` at the
    index's start. Indexes that are not literals are checked when the script runs."""
    if idx.kind == "interp":
        given: type = str
    elif idx.kind == "binary" and idx.op in ("&&", "||"):
        given = bool
    elif idx.kind == "lit":
        given = value_type(idx.value)
    else:
        return
    if obj.kind == "map":
        wanted, text = str, "Object map expects string index, not "
    elif obj.kind in ("array", "interp") or (obj.kind == "lit" and
                                              value_type(obj.value) in (int, str)):
        wanted = int
        text = ("Array, string or bit-field expects numeric index, not " if given is str else
                "Array, string or bit-field expects integer index, not ")
    else:
        return
    if given is not wanted and given in LITERAL_INDEX_NAMES:
        at = start_of(idx)
        raise ParseError(text + LITERAL_INDEX_NAMES[given], at.line, at.col,
                         kind="MalformedIndexExpr")


def parse(src: str, max_expr_depth: int = 64, budget: CompileBudget | None = None) -> Script:
    """Parse a whole script within ``budget`` (source size, tokens, functions, deadline)."""
    budget = budget or CompileBudget()
    budget.check_source(src)
    return parse_tokens(tokenize(src, max_expr_depth, budget), max_expr_depth, budget)


def parse_tokens(tokens: list[Token], max_expr_depth: int = 64,
                 budget: CompileBudget | None = None) -> Script:
    """Parse a whole script from its tokens (already counted against ``budget``)."""
    return Parser(tokens, max_expr_depth, budget).parse_script()
