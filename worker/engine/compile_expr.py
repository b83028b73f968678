"""Expression code generation (a mixin of ``Compiler``): operators with inline INT fast
paths, indexing, properties, calls, methods and closures. Each method returns the Python
expression for a node, emitting any statements it needs first."""
from __future__ import annotations

import math
from typing import Any

from .compile_base import (ARITH, COMPARE, DEEP_BLOCKS, ENTER_PREFIX, HOIST_NEST, INT_LIT,
                           KEPT_BY_METHODS, RUNTIME_CALLS, SIMPLE, SLOW, SMALL, TEMP, in_i64)
from .errors import ParseError
from .natives import LIBRARY
from .nodes import (ArrayLit, Binary, Call, Closure, GlobalConst, Index, Interp, Lit, MapLit,
                    MethodCall, Node, Prop, PyCode, QualifiedCall, QualifiedVar, This, Unary,
                    Variable)
from .runtime import SHORT_TEXT, NativeCall, calls_map_fn, native_for
from .shapes import is_hole, value_type
from .values import INT_MAX, INT_MIN


FLOAT_ARITH = {"+": "_add", "-": "_sub", "*": "_mul", "/": "_div"}
I64_CHARS = len(str(INT_MIN))  # the longest display of an INT
THIS = "(_tb[0] if _tb is not None else _this(_tb))"  # ``this``: ``_this`` raises when unbound


def is_float_lit(e: Node) -> bool:
    """Whether ``e`` is a FLOAT literal (its code is a constant: no type test needed)."""
    return e.kind == "lit" and value_type(e.value) is float


def never_int(e: Node) -> bool:
    """Whether ``e`` is a literal of another type than INT (no INT fast path can apply)."""
    return e.kind == "lit" and value_type(e.value) is not int


class ExpressionCompiler:
    """Code generation for expressions; state and output helpers come from ``Compiler``."""

    def ex_seq(self, nodes: list[Node]) -> list[str]:
        """Compile operands in order; earlier ones are saved if later ones emit statements."""
        codes: list[str] = []
        for node in nodes:
            mark = len(self.lines)
            code = self.ex(node)
            if len(self.lines) > mark:
                self.save_earlier(codes, mark)
            codes.append(code)
        return codes

    def save_earlier(self, codes: list[str], mark: int) -> None:
        """Statements were emitted from line ``mark`` on: the operands in ``codes`` (compiled
        before them, used after them) that those statements could change or that could fail
        after them are stored in temporaries before them; literals, constants and temporaries
        stay as they are."""
        for i, prev in enumerate(codes):
            if not (INT_LIT.match(prev) or TEMP.match(prev) or
                    prev in ("None", "True", "False") or prev.startswith("K_")):
                t = self.tmp()
                if mark < len(self.lines) and self.lines[mark][1].startswith(ENTER_PREFIX):
                    mark += 1  # the check for the calls in ``prev`` goes first
                self.lines.insert(mark, [self.indent, f"{t} = {prev}", self.pos])
                mark += 1
                codes[i] = t

    def ex(self, e: Node) -> str:
        """The Python expression for ``e``; what may fail gets a line of its own (see below)."""
        if e.kind == "var":  # the commonest node: a local is its name, which needs nothing below
            var = self.frame.lookup(e.name)
            if var is not None:
                return var.py
        function = self.frame.function
        function.nest += 1
        saved = spot = self.pos
        if e.kind == "index":  # the lines made for it give its errors their positions
            spot = self.pos = self.spot(e, saved)
        try:
            code = self.ex_inner(e)
        finally:
            function.nest -= 1
            if self.pos is spot:  # (a position the code for ``e`` set is left as it was)
                self.pos = saved
        if code.startswith(RUNTIME_CALLS) or (e.kind == "binary" and e.op in SLOW) or \
                (e.kind == "index" and not SIMPLE.match(code)):
            # a runtime call that may fail, or an indexing, gets a line of its own, so that
            # the line table gives its error the exact position of this node
            saved, self.pos = self.pos, self.spot(e, (e.line, e.col))
            t = self.tmp()
            self.emit(f"{t} = {self.bare(code)}")
            self.pos = saved
            return t
        if function.nest >= HOIST_NEST and not SIMPLE.match(code) and \
                code not in ("None", "True", "False"):
            t = self.tmp()
            self.emit(f"{t} = {self.bare(code)}")
            return t
        return code

    def group(self, inner: str) -> str:
        """``(inner)``, an expression that other code may embed; where a statement's whole
        expression is one (``bare``) its parentheses are left out. Only for an ``inner``
        without a walrus outside parentheses (Python requires them there)."""
        code = f"({inner})"
        self.groups.add(code)
        return code

    def bare(self, code: str) -> str:
        """``code`` without the parentheses of a ``group``: a statement's whole expression
        needs none, and each pair costs CPython's ``compile()`` about a microsecond (the same
        bytecode either way)."""
        return code[1:-1] if code in self.groups else code

    def lit(self, v: Any) -> str:
        if is_hole(v):
            return self.const(v)
        t = type(v)
        if t is bool or v is None:
            return repr(v)
        if t is int:
            return str(v) if v >= 0 else f"({v})"
        if t is float:
            if math.isfinite(v):
                return repr(v) if v >= 0 else f"({v!r})"
            return self.const(v)
        return self.const(v)  # str / Char

    def passed_on(self, e: Node, code: str) -> str:
        """``code`` for ``e`` where its value is only stored or handed on (a variable, an
        argument, an array or map item, a returned value): a number literal becomes a name in
        the constants table, as strings are, so that scripts differing only in such values
        generate the same Python text and share its compiled code (see codecache.py). Where an
        operator uses a literal it stays in the text, for the operator's fast paths."""
        if e.kind == "lit" and value_type(e.value) in (int, float):
            return self.const(e.value)
        return code

    def ex_inner(self, e: Node) -> str:
        """The Python expression for ``e``, by the method for its node class (``expr_<Class>``,
        see ``Compiler.EXPR_VISITORS``)."""
        visit = self.EXPR_VISITORS.get(type(e))
        if visit is None:
            raise ParseError(f"Unsupported expression {e.kind}", e.line, e.col)
        return visit(self, e)

    def expr_Lit(self, e: Lit) -> str:
        return self.lit(e.value)

    def expr_PyCode(self, e: PyCode) -> str:
        return e.code

    def expr_GlobalConst(self, e: GlobalConst) -> str:
        return f"_global_const({self.const(e.name)})"

    def expr_QualifiedVar(self, e: QualifiedVar) -> str:
        self.uses_modules = True
        return (f"_module_var({self.lookup_module(e.root)}, {self.const(e.root)}, "
                f"{self.const(e.path)}, {self.const(e.name)})")

    def expr_QualifiedCall(self, e: QualifiedCall) -> str:
        return self.qualified_call(e)

    def expr_Variable(self, e: Variable) -> str:
        var = self.lookup(e.name)
        if var is not None:
            return var.py
        if e.name in self.fn_names:
            return f"_FnPtr({self.const(e.name)})"
        return self.scope_var(e.name)

    def scope_var(self, name: str) -> str:
        """The value of the host's scope variable ``name`` (or one an ``eval`` defined): a
        value of the host's, which ``this_kept`` must not have taken for absent."""
        self.reads_scope = True
        return f"_lookup_scope_var({self.const(name)})"

    def expr_This(self, e: This) -> str:
        return THIS

    def expr_Binary(self, e: Binary) -> str:
        return self.binary(e)

    def expr_Unary(self, e: Unary) -> str:
        code = self.ex(e.e)
        if e.op == "-":
            return f"_neg({code})"
        if e.op == "+":
            return f"_plus({code})"
        if self.is_bool(e.e, code):
            return self.group(f"not {code}")
        if e.e.kind == "lit" or not self.hot():
            return f"_not({code})"
        first, later = self.operand(code)
        return self.group(f"False if {first} is True else True if {later} is False else "
                          f"_not({later})")

    def expr_Index(self, e: Index) -> str:
        if self.has_safe(e):
            return self.safe_chain(e)
        return self.index(e)

    def expr_Prop(self, e: Prop) -> str:
        if self.has_safe(e):
            return self.safe_chain(e)
        obj = self.ex(e.obj)
        if e.safe:
            t = self.tmp()
            return self.group(f"None if ({t} := {obj}) is None else "
                              f"_prop({t}, {self.const(e.name)})")
        return self.map_property(e, obj)

    def expr_Call(self, e: Call) -> str:
        return self.call(e)

    def expr_MethodCall(self, e: MethodCall) -> str:
        if self.has_safe(e):
            return self.safe_chain(e)
        return self.method(e)

    def expr_ArrayLit(self, e: ArrayLit) -> str:
        """Size-checked before its items are copied, unless known in advance."""
        code, stored, _, _ = self.literal_parts(e)
        if self.within_limits(self.static_sizes(e)):
            return code
        return f"_array_literal({code}, {stored})"

    def expr_MapLit(self, e: MapLit) -> str:
        code, stored, _, _ = self.literal_parts(e)
        if self.within_limits(self.static_sizes(e)):
            return code
        return f"_map_literal({code}, {stored})"

    def literal_parts(self, e: Node, named: bool = False) -> tuple[str, tuple, list, list]:
        """An array or map literal as a Python list or dict display of its items (a map's in
        key order), the positions of the items that name stored values (copied once the
        literal's sizes are checked, see ``copied_items``), and the item nodes and codes in
        that order (``named``: each code a name or constant, computed in order first)."""
        if e.kind == "array":
            nodes, keys = e.items, None
        else:
            pairs = sorted(e.items, key=lambda kv: kv[0])
            nodes, keys = [v for _, v in pairs], [k for k, _ in pairs]
        codes = [self.passed_on(n, c) for n, c in zip(nodes, self.ex_seq(nodes))]
        if named:
            codes = [c if SIMPLE.match(c) or c in ("None", "True", "False") else self.stored(c)
                     for c in codes]
        if keys is None:
            display = "[" + ", ".join(codes) + "]"
        else:
            display = "{" + ", ".join(f"{self.const(k)}: {c}" for k, c in zip(keys, codes)) + "}"
        return display, self.copied_items(nodes), nodes, codes

    def expr_Interp(self, e: Interp) -> str:
        """``${...}`` parts in order: a value that is a name or literal (``${x}``) goes into
        the ``_interp`` call as it is, unless a later part emits statements (see
        ``save_earlier``); any other is stored first, at its own position. When every value
        is statically an INT or a string, see ``formatted``: anywhere when the text is short
        by its static bound (texts and INTs only), in hot code whatever its length."""
        parts: list[str] = []
        known_chars = 0  # the most characters the text can have, if no part is a string
        formattable = True
        for p in e.parts:
            if isinstance(p, str):
                parts.append(self.const(p))
                known_chars += len(p)  # texts are in the shape's key, never holes
            elif p.stmts:
                mark = len(self.lines)
                with self.block_scope():
                    value, is_int = self.block_value(p.stmts)
                    last = p.stmts[-1]
                    is_str = not is_int and last.kind == "expr" and self.is_str(last.e)
                if not SIMPLE.match(value) and value not in ("None", "True", "False"):
                    value = self.stored(value)
                if len(self.lines) > mark:
                    self.save_earlier(parts, mark)
                parts.append(value)
                known_chars = known_chars + I64_CHARS if is_int else math.inf
                formattable = formattable and (is_int or is_str)
        short = min(SHORT_TEXT, self.max_string // 4)
        if formattable and (known_chars <= short or self.hot()):
            return self.formatted(parts, known_chars, short)
        return f"_interp({', '.join(parts)})"

    def formatted(self, parts: list[str], known_chars: float, short: int) -> str:
        """An interpolation of INTs and strings as a Python f-string of the part names (the
        display of an INT is Python's, and no text of the script enters the generated code).
        ``_interp`` neither counts nor checks a text of at most ``short`` characters
        (``SHORT_TEXT`` and a quarter of the string limit); one that may be longer is checked
        by ``_check_text``, as ``_interp`` checks it."""
        code = 'f"' + "".join(f"{{{part}}}" for part in parts) + '"'
        if known_chars <= short:
            return code
        text = self.stored(code)
        self.emit(f"if len({text}) > {short}: _check_text({text})")
        return text

    def expr_Closure(self, e: Closure) -> str:
        return self.closure(e)

    def expr_control(self, e: Node) -> str:
        """A control-flow expression used for its value (``if``, ``switch``, loops, ...)."""
        t = self.tmp()
        self.control(e, t)
        return t

    def expr_jump(self, e: Node) -> str:
        """``break``/``continue``/``return``/``throw`` inside an expression: value ()."""
        self.control(e, None)
        return "None"

    expr_If = expr_Switch = expr_Block = expr_While = expr_Loop = expr_For = expr_Try = \
        expr_control
    expr_Break = expr_Continue = expr_Return = expr_Throw = expr_jump

    @staticmethod
    def has_safe(e: Node) -> bool:
        """Whether a ``?.``/``?[`` link below the top of this chain must short-circuit it."""
        node = e.obj
        while node.kind in ("prop", "index", "method"):
            if node.safe:
                return True
            node = node.obj
        return False

    def safe_chain(self, e: Node) -> str:
        """``a?.b.c``: when ``a`` is () the whole rest of the chain is ()."""
        deepest = None
        node = e.obj
        while node.kind in ("prop", "index", "method"):
            if node.safe:
                deepest = node
            node = node.obj
        obj = self.value_of(deepest.obj)
        result = self.tmp()
        self.emit(f"if {obj} is None: {result} = None")
        self.emit("else:")
        self.indent += 1
        saved = deepest.obj, deepest.safe
        deepest.obj = PyCode(deepest.line, deepest.col, code=obj)
        deepest.safe = False
        try:
            code = self.ex(e)
        finally:
            deepest.obj, deepest.safe = saved
        self.emit(f"{result} = {code}")
        self.indent -= 1
        return result

    def operand(self, code: str) -> tuple[str, str]:
        """(first use, later uses) of an operand: complex code is evaluated once via walrus."""
        if SIMPLE.match(code):
            return code, code
        t = self.tmp()
        return f"({t} := {code})", t

    def arith(self, pyop: str, a: str, b: str, slow: str, a_int: bool = False,
              b_int: bool = False) -> str:
        """Inline i64 fast path for ``a pyop b`` falling back to the runtime ``slow``.

        Operands statically known to be INT skip the type test; the range test stays.
        """
        if not self.hot():
            return f"{slow}({a}, {b})"
        a_int = a_int or bool(INT_LIT.match(a))
        b_int = b_int or bool(INT_LIT.match(b))
        r = self.tmp("_r")
        if a_int and b_int:  # both INT: only overflow can go wrong; statements are cheaper
            # than a conditional expression, and one-digit comparisons are the fastest
            if pyop == "+" and INT_LIT.match(b) and int(b.strip("()")) >= 0:
                outside = f"{r} > {SMALL}"
            elif pyop == "-" and INT_LIT.match(b) and int(b.strip("()")) >= 0:
                outside = f"{r} < -{SMALL}"
            else:
                outside = f"{r} > {SMALL} or {r} < -{SMALL}"
            # the operands are kept for the overflow error, which names them
            (a, a_later), (b, b_later) = self.operand(a), self.operand(b)
            self.emit(f"{r} = {a} {pyop} {b}")
            self.emit(f"if {outside}: {r} = _i64({r}, {self.const(pyop)}, {a_later}, {b_later})")
            return r
        a_simple, b_simple = SIMPLE.match(a), SIMPLE.match(b)
        checks = []
        if a_simple and b_simple:
            ra, rb = a, b
            if not a_int:
                checks.append(f"type({a}) is int")
            if not b_int:
                checks.append(f"type({b}) is int")
            cond = " and ".join(checks)
        elif b_simple:
            ra, rb = self.tmp(), b
            checks.append(f"type({ra} := {a}) is int")
            if not b_int:
                checks.append(f"type({b}) is int")
            cond = " and ".join(checks)
        elif a_simple:
            ra, rb = a, self.tmp()
            checks.append(f"type({rb} := {b}) is int")
            if not a_int:
                checks.append(f"type({a}) is int")
            cond = " and ".join(checks)
        else:
            ra, rb = self.tmp(), self.tmp()
            cond = f"(type({ra} := {a}) is int) & (type({rb} := {b}) is int)"
        # in the ``else`` of the conditional expression, another needs no parentheses
        fallback = self.bare(self.float_fallback(pyop, ra, rb, slow)) \
            if not (a_int or b_int) else f"{slow}({ra}, {rb})"
        return self.group(f"{r} if {cond} and {in_i64(r, f'{ra} {pyop} {rb}')} else {fallback}")

    def float_fallback(self, pyop: str, a: str, b: str, slow: str) -> str:
        """``a pyop b`` on two FLOATs inline, else the runtime ``slow``; ``a`` and ``b`` are
        names or literals. For + - * / on two f64 Python's result is Rust's (IEEE 754: overflow
        gives inf, no error); only division by zero differs (Python raises) and goes slow. An
        INT ``b`` is promoted by Python exactly as ``ops`` does (``float(b)``, correctly
        rounded: both are ``PyLong_AsDouble``)."""
        nonzero = f" and {b}" if pyop == "/" else ""
        return self.group(f"{a} {pyop} {b} if type({a}) is float and type({b}) in (float, int)"
                          f"{nonzero} else {slow}({a}, {b})")

    def float_arith(self, pyop: str, e: Node, a: str, b: str, slow: str) -> str:
        """``a pyop b`` where one operand is a FLOAT literal: the other is tested to be a
        FLOAT or an INT (promoted as in ``float_fallback``; the literal needs no test) and
        the result is computed inline."""
        a_float, b_float = is_float_lit(e.l), is_float_lit(e.r)
        if (pyop == "/" and b_float and (is_hole(e.r.value) or not e.r.value)) or \
                not self.hot():  # by a zero, or code that runs once
            return f"{slow}({a}, {b})"
        checks = []
        if not a_float:
            a_first, a = self.operand(a)
            checks.append(f"type({a_first}) in (float, int)")
        if not b_float:
            b_first, b = self.operand(b)
            checks.append(f"type({b_first}) in (float, int)")
        if pyop == "/" and not b_float:
            checks.append(b)
        if not checks:
            return self.group(f"{a} {pyop} {b}")
        return self.group(f"{a} {pyop} {b} if {' and '.join(checks)} else {slow}({a}, {b})")

    def compare(self, op: str, a: str, b: str, a_int: bool = False, b_int: bool = False) -> str:
        a_int = a_int or bool(INT_LIT.match(a))
        b_int = b_int or bool(INT_LIT.match(b))
        slow = COMPARE[op]
        if a_int and b_int:
            return self.group(f"{a} {op} {b}")
        if not self.hot():
            return f"{slow}({a}, {b})"
        a_simple, b_simple = SIMPLE.match(a), SIMPLE.match(b)
        if a_simple and b_simple:
            checks = [f"type({x}) is int" for x, known in ((a, a_int), (b, b_int)) if not known]
            return self.group(f"{a} {op} {b} if {' and '.join(checks)} else {slow}({a}, {b})")
        if b_simple:
            t = self.tmp()
            checks = [f"type({t} := {a}) is int"] + ([] if b_int else [f"type({b}) is int"])
            return self.group(f"{t} {op} {b} if {' and '.join(checks)} else {slow}({t}, {b})")
        if a_simple:
            t = self.tmp()
            checks = [f"type({t} := {b}) is int"] + ([] if a_int else [f"type({a}) is int"])
            return self.group(f"{a} {op} {t} if {' and '.join(checks)} else {slow}({a}, {t})")
        t1, t2 = self.tmp(), self.tmp()
        return self.group(f"{t1} {op} {t2} if (type({t1} := {a}) is int) & "
                          f"(type({t2} := {b}) is int) else {slow}({t1}, {t2})")

    def binary(self, e: Node) -> str:
        op = e.op
        if op in ("&&", "||", "??"):
            return self.logical(e)
        if e.r is None:
            a = self.ex(e.l)
            return f"_make_range({a}, _MAX, False)"
        if op in ("in", "!in"):  # Rhai calls ``contains(b, a)``: the container comes first
            b, a = self.ex_seq([e.r, e.l])
        else:
            a, b = self.ex_seq([e.l, e.r])
        a_int, b_int = self.is_int(e.l), self.is_int(e.r)
        if op in FLOAT_ARITH and self.float_pair(e.l, e.r):  # not comparisons: Rhai compares
            # FLOATs within a relative epsilon (``ops.float_compare``)
            return self.float_binary(op, a, b)
        if op in ("+", "-") and self.cannot_overflow(e):
            return self.group(f"{a} {op} {b}")
        if op in FLOAT_ARITH and (is_float_lit(e.l) or is_float_lit(e.r)):
            return self.float_arith(op, e, a, b, FLOAT_ARITH[op])
        if (op in ARITH or op in COMPARE) and (never_int(e.l) or never_int(e.r)):
            return f"{ARITH[op][1] if op in ARITH else COMPARE[op]}({a}, {b})"
        if op in ARITH:
            return self.arith(ARITH[op][0], a, b, ARITH[op][1], a_int, b_int)
        if op in COMPARE:
            return self.compare(op, a, b, a_int, b_int)
        if op in ("/", "%") and not self.hot():
            return f"{SLOW[op]}({', '.join(self.simple_pair(a, b))})"
        if op == "/":
            return self.division(a, b)
        if op == "%":
            return self.modulo(e, a, b)
        if op in ("&", "|", "^") and a_int and b_int:  # of two i64s: an i64, no check needed
            return self.group(f"{a} {op} {b}")
        if op in SLOW:
            return f"{SLOW[op]}({a}, {b})"
        if op == "in":
            return f"_in({b}, {a})"
        if op == "!in":
            return self.group(f"not _in({b}, {a})")
        if op in ("..", "..="):
            return f"_make_range({a}, {b}, {op == '..='})"
        raise ParseError(f"Unknown operator {op}", e.line, e.col)

    def float_binary(self, op: str, a: str, b: str) -> str:
        """``a op b`` (+ - * /) of a FLOAT and a FLOAT or INT (statically): Python's arithmetic
        is Rhai's for them (see ``float_fallback``), but for a division by zero, left to
        ``_div``."""
        if op != "/":
            return self.group(f"{a} {op} {b}")
        a, b = self.simple_pair(a, b)
        return self.group(f"{a} / {b} if {b} else _div({a}, {b})")

    def simple_pair(self, a: str, b: str) -> tuple[str, str]:
        """Both operands as names or literals (others stored first, ``a`` before ``b``), so
        that a fast path may test and use them more than once."""
        if not SIMPLE.match(a):
            a = self.stored(a)
        if not SIMPLE.match(b):
            b = self.stored(b)
        return a, b

    def division(self, a: str, b: str) -> str:
        """``a / b``: two FLOATs divide inline (see ``float_fallback``), anything else (INT
        division truncates and checks) goes to the runtime."""
        a, b = self.simple_pair(a, b)
        return self.float_fallback("/", a, b, "_div")

    def modulo(self, e: Node, a: str, b: str) -> str:
        """``a % b``: for a non-negative INT and a positive INT Python's ``%`` is Rust's
        (``ops.mod``'s first case), inline; anything else goes to the runtime."""
        a, b = self.simple_pair(a, b)
        checks = [] if self.is_int(e.l) else [f"type({a}) is int"]
        if INT_LIT.match(a):
            if int(a.strip("()")) < 0:
                return f"_mod({a}, {b})"
        else:
            checks.append(f"{a} >= 0")
        if INT_LIT.match(b):
            if int(b.strip("()")) <= 0:
                return f"_mod({a}, {b})"
        else:
            if not self.is_int(e.r):
                checks.insert(0, f"type({b}) is int")
            checks.append(f"{b} > 0")
        if not checks:
            return self.group(f"{a} % {b}")
        return self.group(f"{a} % {b} if {' and '.join(checks)} else _mod({a}, {b})")

    def eval_call(self, e: Node) -> str:
        """``eval(source)`` runs in the caller's scope: it gets the visible variables in a
        dict and may change them (read back here) or add new ones (looked up at run time)."""
        arg = self.ex(e.args[0])
        variables = self.frame.visible_vars()
        scope, result = self.tmp(), self.tmp()
        pairs = ", ".join(f"{self.const(k)}: {v.py}" for k, v in variables.items())
        innermost = self.frame.symbols
        names = self.const(tuple((k, v.const, innermost.get(k) is v)
                                 for k, v in variables.items()))
        top = self.at_script_top()
        parts = [f"({result} := _eval(_d, {arg}, ({scope} := {{{pairs}}}), {top}, {names}))"]
        for name, var in variables.items():
            if not var.const:
                self.demote(var)
                self.demote_float(var)
                self.demote_list(var)
                self.demote_str(var)
                self.demote_map(var)
                parts.append(f"({self.assign_var(var)} := {scope}[{self.const(name)}])")
        return f"({', '.join(parts)}, {result})[-1]"

    def cannot_overflow(self, e: Node) -> bool:
        """``n - 1`` / ``n + 1`` where an enclosing ``if`` bounds the INT variable ``n`` so
        that the result fits an i64: no range check is needed."""
        if e.l.kind != "var" or e.r.kind != "lit" or value_type(e.r.value) is not int or \
                is_hole(e.r.value):  # a hole: its value is unknown
            return False
        var = self.lookup(e.l.name)
        facts = self.frame.facts
        if var is None or var.key not in facts or not self.var_is_int(var):
            return False
        low, high = facts[var.key]
        k = e.r.value if e.op == "+" else -e.r.value
        if k >= 0:
            return high is not None and high + k <= INT_MAX
        return low is not None and low + k >= INT_MIN

    def logical(self, e: Node) -> str:
        a = self.ex(e.l)
        if e.op != "??" and not self.is_bool(e.l, a):
            a = f"_bool({a})"
        self.flush()  # calls in ``a`` are made whether or not ``b``'s lines run
        mark = len(self.lines)
        b = self.ex(e.r)
        if e.op != "??" and not self.is_bool(e.r, b):
            b = f"_bool({b})"
        if len(self.lines) == mark:
            if e.op == "&&":
                return self.group(f"{a} and {b}")
            if e.op == "||":
                return self.group(f"{a} or {b}")
            t = self.tmp()
            return self.group(f"{t} if ({t} := {a}) is not None else {b}")
        hoisted = self.lines[mark:]
        del self.lines[mark:]
        t = self.tmp()
        self.emit(f"{t} = {a}")
        test = {"&&": t, "||": f"not {t}", "??": f"{t} is None"}[e.op]
        self.emit(f"if {test}:")
        self.indent += 1
        for line in hoisted:
            line[0] += 1
            self.lines.append(line)
        self.emit(f"{t} = {b}")
        self.indent -= 1
        return t

    def index(self, e: Node) -> str:
        if not e.safe and not self.hot():
            obj, idx = self.ex_seq([e.obj, e.idx])
            return f"_index({obj}, {idx})"
        if not e.safe and self.is_int(e.idx) and self.frame.function.blocks < DEEP_BLOCKS:
            return self.int_index_chain(e)
        obj, idx = self.ex_seq([e.obj, e.idx])
        if e.safe:
            t = self.tmp()
            return self.group(f"None if ({t} := {obj}) is None else _index({t}, {idx})")
        if not SIMPLE.match(idx):  # evaluated first, in a line of its own (after ``obj``)
            if not SIMPLE.match(obj):
                obj = self.stored(obj)
            idx = self.stored(idx)
        if self.is_map(e.obj):  # a map's entry, inline, with no test of the map's type
            if self.is_str(e.idx):
                return f"{self.operand(obj)[0]}.get({idx})"
            if not SIMPLE.match(obj):  # read by either branch: evaluated first
                obj = self.stored(obj)
            return self.group(f"{obj}.get({idx}) if type({idx}) is str else "
                              f"_index({obj}, {idx})")
        first, obj = self.operand(obj)
        if self.is_str(e.idx):  # a map's entry, inline
            return self.group(f"{obj}.get({idx}) if type({first}) is dict else "
                              f"_index({obj}, {idx})")
        in_map = "" if self.is_int(e.idx) else \
            f"{obj}.get({idx}) if type({obj}) is dict and type({idx}) is str else "
        return (f"({obj}[{idx}] if type({first}) is list and {self.in_list(obj, idx, e.idx)} "
                f"else {in_map}_index({obj}, {idx}))")

    def int_index_chain(self, e: Node) -> str:
        """``x[i][j]...`` with INT indexes (not ``?[``), in code that may run many times: read
        with Python's own indexing of each array, inside a ``try``; an index out of bounds
        (Python's IndexError: Rhai's negative indexes count back as Python's do) reads the
        chain again through ``_index``, which raises Rhai's error. A link that is not an
        array goes through ``_index`` in the first read already. The object and indexes
        are names or literals by then (computed in order first), so reading twice reads the
        same values (an INT index reads without side effects)."""
        links = []
        node = e
        while node.kind == "index" and not node.safe and self.is_int(node.idx):
            links.append(node)
            node = node.obj
        links.reverse()
        codes = [c if SIMPLE.match(c) else self.stored(c)
                 for c in self.ex_seq([node, *(link.idx for link in links)])]
        root, indexes = codes[0], codes[1:]
        fast = generic = root
        for depth, idx in enumerate(indexes):
            generic = f"_index({generic}, {idx})"
            if depth == 0 and self.is_list(node):
                fast = f"{root}[{idx}]"
            elif depth == 0:
                fast = f"({root}[{idx}] if type({root}) is list else _index({root}, {idx}))"
            else:
                held = self.tmp("_u")
                fast = (f"({held}[{idx}] if type({held} := {fast}) is list "
                        f"else _index({held}, {idx}))")
        t = self.tmp()
        if len(links) == 1:
            self.emit(f"try: {t} = {fast}")
            self.emit(f"except IndexError: {t} = {generic}")
            return t
        # a chain of links: an error of one (out of bounds, or a link that is not an array) is
        # raised again by reading the chain link by link, each read on a line of its own with
        # that link's positions (``Compiler.spot``)
        before = self.pos
        at = self.pos = tuple(before)
        self.emit(f"try: {t} = {fast}")
        self.emit("except (IndexError, _RhaiError):")
        self.indent += 1
        obj = root
        for link, idx in zip(links, indexes):
            self.pos = self.spot(link, at)
            self.emit(f"{t} = _index({obj}, {idx})")
            obj = t
        self.indent -= 1
        self.pos = before
        return t

    def stored(self, code: str) -> str:
        """A temporary holding the value of ``code``, computed by a line of its own."""
        t = self.tmp()
        self.emit(f"{t} = {self.bare(code)}")
        return t

    def in_list(self, obj: str, idx: str, node: Node) -> str:
        """The test that ``idx`` (a name or an INT literal) is an index inside the list
        ``obj``, as plain Python indexing reads it: INT literals are decided here as far as
        they can be; negative indexes that are not literals take the slow path."""
        if INT_LIT.match(idx):
            k = int(idx.strip("()"))
            return f"{k} < len({obj})" if k >= 0 else f"len({obj}) >= {-k}"
        int_check = "" if self.is_int(node) else f"type({idx}) is int and "
        return f"{int_check}0 <= {idx} < len({obj})"

    @staticmethod
    def copied_items(nodes: list[Node]) -> tuple:
        """Positions of literal items that name stored values (variables, indexing,
        properties, ``this``): only those need a copy; other items are new values."""
        return tuple(i for i, n in enumerate(nodes) if n.kind in ("var", "index", "prop", "this"))

    def copy_of(self, code: str) -> str:
        """``_copy(code)`` (Rhai's value semantics), with the test that the value is not an
        array, map or blob (the only values ``_copy`` copies) inline when ``code`` is a
        name in hot code: a scalar or string is passed on without a call."""
        if SIMPLE.match(code) and self.hot():
            return self.group(f"{code} if type({code}) not in _CONTAINERS else _copy({code})")
        return f"_copy({code})"

    def args(self, nodes: list[Node]) -> list[str]:
        codes = self.ex_seq(nodes)
        return [self.copy_of(c) if n.kind in ("var", "index", "prop", "this") and not self.is_int(n)
                else self.passed_on(n, c) for c, n in zip(codes, nodes)]

    def call(self, e: Node) -> str:
        name, n = e.name, len(e.args)
        key = (name, n)
        if e.bang and key in self.script.fns and key not in self.inlining:
            return self.bang_call(e, key)
        if key in self.fn_py:
            args = [self.bare(a) for a in self.args(e.args)]  # each a whole argument
            if self.use_spec(key, e.args):
                self.frame.function.pending += 1
                tb = ", None" if self.fn_uses_this(key) else ""
                return f"{self.spec_py[key]}(_e{tb}{''.join(', ' + a for a in args)})"
            return f"{self.fn_py[key]}(_d - 1, None{''.join(', ' + a for a in args)})"
        if name == "is_def_var" and n == 1:
            arg = self.ex(e.args[0])
            names = self.const(frozenset(self.visible()))
            return f"_is_def_var({arg}, {names})"
        if name == "eval" and n == 1:
            return self.eval_call(e)
        by_ref = n > 0 and e.args[0].kind in ("var", "this") and any(
            f.mutates or f.writes_back for f in LIBRARY.get(name, ()))
        if by_ref:
            first = e.args[0]
            rest = self.args(e.args[1:])
            return self.ref_call(e, first, "_call_ref", name, rest)
        args = [self.bare(a) for a in self.args(e.args)]
        return f"_call(_d, {self.const(name)}{''.join(', ' + a for a in args)})"

    def qualified_call(self, e: Node) -> str:
        """``m::sub::f(args)``: the module is found first (a missing one is reported at
        ``m``), then its function is called (a missing one is reported at ``f``)."""
        self.uses_modules = True
        args = self.args(e.args)
        module = self.tmp()
        saved, self.pos = self.pos, (e.ns_line, e.ns_col)
        self.emit(f"{module} = _find_module({self.lookup_module(e.root)}, "
                  f"{self.const(e.root)}, {self.const(e.path)})")
        self.pos = saved
        qualified = self.const("::".join((e.root, *e.path, e.name)))
        return (f"_module_call(_d, {module}, {qualified}, {self.const(e.name)}"
                f"{''.join(', ' + a for a in args)})")

    def bang_call(self, e: Node, key: tuple[str, int]) -> str:
        """``f!(args)``: run the script function in the caller's scope, as a nested Python
        function that shares the caller's variables (its own ``let``s stay local)."""
        fn = self.script.fns[key]
        args = self.args(e.args)
        self.inlining.add(key)
        self.n += 1
        pyname = f"C_{self.n}"
        saved_pos = self.pos
        try:
            self.function_once(pyname, fn.params, fn.body, fn, self.frame.inner())
        finally:
            self.inlining.discard(key)
            self.pos = saved_pos
        return f"{pyname}(_d - 1, None{''.join(', ' + a for a in args)})"

    def ref_call(self, e: Node, target: Node, helper: str, name: str, rest: list[str]) -> str:
        """The call ``e`` with ``target`` (a variable or ``this``) passed by reference and
        written back: in lines of their own, as ``ex`` puts runtime calls."""
        extra = "".join(", " + a for a in rest)
        if helper == "_call_ref":
            extra = ", (" + "".join(a + ", " for a in rest) + ")"
        if target.kind == "this":
            return f"{helper}(_d, {self.const(name)}, _tb{extra})"
        var = self.lookup(target.name)
        if var is None:
            fn_name = self.const(name)
            return f"{helper}(_d, {fn_name}, [{self.scope_var(target.name)}]{extra})"
        box = self.tmp("_b")
        if var.const:
            return f"{helper}(_d, {self.const(name)}, [{var.py}]{extra})"
        self.demote(var)
        self.demote_float(var)
        for kind in KEPT_BY_METHODS:  # asked only of the kinds the variable still has
            if self.still_of(var, kind) and \
                    not self.call_keeps(kind, name, len(rest), helper != "_call_ref"):
                self.demote_from(var, kind)
        py = self.assign_var(var)
        result = self.tmp()
        self.emit(f"{box} = [{py}]")
        saved, self.pos = self.pos, (e.line, e.col)  # the call's line: its errors' position
        self.emit(f"{result} = {helper}(_d, {self.const(name)}, {box}{extra})")
        self.pos = saved
        self.emit(f"{py} = {box}[0]")
        return result

    def map_property(self, e: Node, obj: str) -> str:
        """``obj.name``: read straight from an object map (with no test of its type when it is
        statically a map), the length of a string or array inline (with no test when it is
        statically one), other types through ``_prop``; on a line of its own, as ``ex`` puts
        runtime calls, so an error has the node's position."""
        if not obj.isidentifier():
            value, obj = obj, self.tmp()
            self.emit(f"{obj} = {value}")
        key = self.const(e.name)
        saved, self.pos = self.pos, (e.line, e.col)
        t = self.tmp()
        # ``len`` of a string, array or blob is Python's (what its getter returns)
        if not self.hot():
            self.emit(f"{t} = _prop({obj}, {key})")
        elif self.is_map(e.obj):  # what ``Runtime.prop`` does for a map
            self.emit(f"{t} = {obj}.get({key})")
        elif e.name == "len" and (self.is_str(e.obj) or self.is_list(e.obj)):
            self.emit(f"{t} = len({obj})")
        else:
            sized = (f"len({obj}) if type({obj}) is str or type({obj}) is list else "
                     if e.name == "len" else "")
            self.emit(f"{t} = {obj}.get({key}) if type({obj}) is dict else {sized}"
                      f"_prop({obj}, {key})")
        self.pos = saved
        return t

    def bound_method(self, e: Node) -> str | None:
        """``x.name(args)`` on a receiver that is statically an INT, an array or a string (not
        a map: a function pointer it holds under ``name`` comes first), with arguments whose
        types are static too (INTs, strings, literals), of a name no script function has: the library overload ``Runtime.method`` would find is found now,
        and when it is plain (no runtime context, nothing changed in place, not an engine
        built-in) it is called through ``_invoke_plain`` as ``Runtime.method`` calls it, so
        ``x`` keeps its static type. An overload that writes a new string back (``trim``)
        is bound only on a string variable, which gets the new string (``bound_write_back``);
        None for any other call."""
        call = self.bound_native(e)
        if call is None:
            return None
        receiver = list if self.is_list(e.obj) else self.static_type(e.obj)
        if call.writes_back:
            return self.bound_write_back(e, call)
        target, *args = self.ex_seq([e.obj, *e.args])
        args = [self.passed_on(n, a) for n, a in zip(e.args, args)]
        if self.inline_native_fits():
            if not SIMPLE.match(target):
                target = self.stored(target)
            saved, self.pos = self.pos, (e.line, e.col)
            result = self.inline_native(call, receiver, target, args, None)
            self.pos = saved
            return result
        passed = "".join(a + ", " for a in args)
        return f"_invoke_plain({self.const(call)}, ({target}, {passed}), None)"

    def bound_native(self, e: Node) -> NativeCall | None:
        """The plain library overload ``x.name(args)`` calls, when the types of the receiver
        and arguments are static (see ``bound_method``), else None."""
        if e.safe or e.name in self.method_names or e.name in self.retyping:
            return None  # a library function that may retype ``x`` takes the general path
        receiver = list if self.is_list(e.obj) else self.static_type(e.obj)
        types = [receiver, *map(self.static_type, e.args)]  # an array argument is copied
        if None in types:
            return None
        call = native_for((e.name, *types))
        if call is None or not call.plain or call.builtin:
            return None
        return call

    def inline_native_fits(self) -> bool:
        """Whether a bound library call here is generated inline (``inline_native``): in code
        that may run many times, and with room for one more ``try`` block (Python allows 20
        nested loop/try blocks per function)."""
        return self.hot() and self.frame.function.blocks < DEEP_BLOCKS

    def inline_native(self, call: NativeCall, receiver: type, target: str, args: list[str],
                      write_back: str | None) -> str:
        """The plain library overload ``call`` on ``target`` (a name or constant of the
        Python type ``receiver``) with ``args`` (names or constants), in lines of their own:
        what ``Runtime.invoke_plain`` does for it, decided here where the receiver's type
        settles it: the operations counted for walking a first argument (an array, map or
        blob: one per element, or per 64 at C speed; a string: one per 64 characters), the
        check before formatting, the call with a library bug reported as Rhai's error, the
        size check of a new string written back into the variable ``write_back`` and of
        the result. Returns the temporary holding the result."""
        if call.counts_work:
            if receiver is str:
                self.emit(f"if len({target}) >= 64: _charge(len({target}) >> 6)")
            elif receiver in (list, dict, bytearray):
                self.frame.function.nonlocals.add("_ops")
                walked = (f"len({target}) >> 6" if call.c_speed or receiver is bytearray
                          else f"len({target})")
                self.emit(f"if (_ops := _ops - ({walked})) <= 0: _tick()")
            if call.formatting:
                self.emit(f"_before_formatting({target})")
        result = self.tmp()
        stored = f"{self.tmp('_n')}, {result}" if call.writes_back else result
        passed = "".join(", " + a for a in args)
        self.emit(f"try: {stored} = {self.const(call.fn)}({target}{passed})")
        self.emit("except _NATIVE_ERRORS: raise")
        self.emit(f"except _ANY_ERROR as _x: _native_failed({self.const(call)}, _x)")
        quarter = self.max_string // 4
        new = stored.split(",")[0]
        if call.writes_back:
            self.emit(f"if type({new}) is str and len({new}) > {quarter}: _check_string({new})")
        if call.returns not in (float, int, bool):  # a result of no size needs no check
            self.emit(f"if type({result}) in _SIZED and (type({result}) is not str or "
                      f"len({result}) > {quarter}): _native_result({self.const(call)}, "
                      f"{result}, {target})")
        if call.writes_back:  # as the caller of ``invoke_plain`` stores its box: last
            self.emit(f"{write_back} = {new}")
        return result

    def static_type(self, e: Node) -> type | None:
        """The type of ``e`` when it is statically an INT, a string or a literal (values that
        need no copy to be passed on), else None."""
        if self.is_int(e):
            return int
        if self.is_str(e):
            return str
        if self.is_float(e):
            return float
        if e.kind == "lit":
            return value_type(e.value)
        return None

    def bound_write_back(self, e: Node, call: NativeCall) -> str | None:
        """A bound string overload that writes a new string back (``s.trim()``), on a string
        variable: called through ``_invoke_plain`` with a box, as ``Runtime.method`` calls it,
        and the box's string stored into the variable (on lines of their own, at the call's
        position, as ``ref_call`` puts them). None for any other receiver (a constant keeps
        the generic call, and its errors)."""
        var = self.lookup(e.obj.name) if e.obj.kind == "var" else None
        if var is None or var.const:
            return None
        args = [self.passed_on(n, a) for n, a in zip(e.args, self.ex_seq(e.args))]
        passed = "".join(", " + a for a in args)
        py = self.assign_var(var)
        saved, self.pos = self.pos, (e.line, e.col)
        if self.inline_native_fits():
            result = self.inline_native(call, str, py, args, py)
            self.pos = saved
            return result
        box, result = self.tmp("_b"), self.tmp()
        self.emit(f"{box} = [{py}]")
        self.emit(f"{result} = _invoke_plain({self.const(call)}, ({py}{passed},), {box})")
        self.emit(f"{py} = {box}[0]")
        self.pos = saved
        return result

    def fitting_overloads(self, e: Node, writing_back: bool) -> list[tuple[type, NativeCall]]:
        """For ``x.name(args)`` in code that may run many times, with arguments of static types
        (INTs, strings, literals) and a name no script function has: the plain library
        overloads (``writing_back``: also those writing a new string back) of a string, a map
        and an array for those arguments, which a call site may test ``x``'s type against
        (``guarded_method``, ``guarded_property_method``; a map's only when it holds no function
        pointer under the name, see ``guarded_branches``). Empty where that does not apply."""
        if not self.hot() or e.safe or e.name in self.method_names or e.name in self.retyping:
            return []  # (``take``, which may retype ``x``, takes the general path)
        arg_types = [self.static_type(arg) for arg in e.args]
        if None in arg_types:
            return []
        return [(receiver, call) for receiver in (str, dict, list)
                if (call := native_for((e.name, receiver, *arg_types))) is not None
                and call.plain and not call.builtin and (writing_back or not call.writes_back)]

    def guarded_args(self, e: Node) -> list[str]:
        """The arguments of a guarded call, each a name or literal (a value computed on a line
        of its own), as every branch passes them."""
        args = [self.passed_on(n, a) for n, a in zip(e.args, self.ex_seq(e.args))]
        return [a if SIMPLE.match(a) else self.stored(a) for a in args]

    def guarded_branches(self, target: str, name: str, found: list[tuple[type, NativeCall]],
                         args: list[str], result: str, variable: bool,
                         typed_map: bool = False) -> None:
        """``if type(target) is T: result = <T's overload>`` for each fitting overload (one
        writing back stores the new string into ``target``, a ``variable``; a map's only when
        it holds no function pointer under ``name``, which ``Runtime.method`` calls first,
        with no test of its type when it is statically a map, ``typed_map``); the caller
        emits the ``else``."""
        passed = "".join(", " + a for a in args)
        for i, (receiver, call) in enumerate(found):
            test = f"type({target}) is {receiver.__name__}"
            if receiver is dict:
                held = f"type({target}.get({self.const(name)})) is not _FnPtr"
                test = held if typed_map else f"{test} and {held}"
            self.emit(f"{'if' if i == 0 else 'elif'} {test}:")
            self.indent += 1
            if self.inline_native_fits() and (variable or not call.writes_back):
                inline = self.inline_native(call, receiver, target, args,
                                            target if call.writes_back else None)
                self.emit(f"{result} = {inline}")
                self.indent -= 1
                continue
            box = self.tmp("_b") if call.writes_back and variable else "None"
            if box != "None":
                self.emit(f"{box} = [{target}]")
            self.emit(f"{result} = _invoke_plain({self.const(call)}, ({target}{passed},), {box})")
            if box != "None":
                self.emit(f"{target} = {box}[0]")
            self.indent -= 1

    def guarded_method(self, e: Node) -> str | None:
        """``x.name(args)`` on a variable of no static type: for each fitting overload
        (``fitting_overloads``), a test of ``x``'s type calls it as ``bound_method`` would (a
        string written back into ``x``); any other value takes the general path
        (``ref_call``). Receivers from parameters and loops are typed only at run time; this
        is the check ``Runtime.method`` makes, made inline. None where it does not apply."""
        var = self.lookup(e.obj.name)
        if var is None or var.const:
            return None
        if self.static_type(e.obj) is not None or self.is_list(e.obj):
            return None  # typed: bound_method's, or no overload for the type
        typed_map = self.is_map(e.obj)  # only a map's overload, and no test of its type
        found = [(receiver, call) for receiver, call in self.fitting_overloads(e, True)
                 if receiver is dict or not typed_map]
        if not found:
            return None
        args = self.guarded_args(e)
        saved, self.pos = self.pos, (e.line, e.col)  # the call's line: its errors' position
        py, result = self.assign_var(var), self.tmp()
        self.guarded_branches(py, e.name, found, args, result, True, typed_map)
        self.general_method_branch(e, args, result)
        self.pos = saved
        return result

    def general_method_branch(self, e: Node, args: list[str], result: str) -> None:
        """The ``else`` of a call site that tests its receiver inline: the general method call
        (``ref_call``, with the write-back of the variable ``e.obj``)."""
        self.emit("else:")
        self.indent += 1
        self.emit(f"{result} = {self.ref_call(e, e.obj, '_method', e.name, args)}")
        self.indent -= 1

    def guarded_property_method(self, e: Node) -> str | None:
        """``m.key.name(args)``: when ``m`` is a map and its ``key`` holds a value with a
        fitting overload that writes nothing back (``fitting_overloads``), that overload is
        called on it, as ``Runtime.method_at`` would (nothing to store back into ``m``); any
        other value through ``_method_at``. None where this does not apply."""
        found = self.fitting_overloads(e, writing_back=False)
        if not found or self.has_safe(e):
            return None
        parent = self.ex(e.obj.obj)
        args = self.guarded_args(e)
        saved, self.pos = self.pos, (e.line, e.col)
        if not SIMPLE.match(parent):
            parent = self.stored(parent)
        key, child, result = self.const(e.obj.name), self.tmp(), self.tmp()
        self.emit(f"{child} = {parent}.get({key}) if type({parent}) is dict else None")
        self.guarded_branches(child, e.name, found, args, result, False)
        self.emit("else:")
        passed = "".join(", " + a for a in args)
        self.emit(f"    {result} = _method_at(_d, {self.const(e.name)}, {parent}, {key}, True"
                  f"{passed})")
        self.pos = saved
        return result

    def method(self, e: Node) -> str:
        obj = e.obj
        name = e.name
        bound = self.bound_method(e)
        if bound is not None:
            return bound
        if e.safe:
            target = self.ex(obj)
            t = self.tmp()
            args = self.args(e.args)
            return (f"(None if ({t} := {target}) is None else "
                    f"_method(_d, {self.const(name)}, [{t}]{''.join(', ' + a for a in args)}))")
        if obj.kind == "var":
            guarded = self.guarded_method(e)
            if guarded is not None:
                return guarded
        if obj.kind == "var" and name == "push" and len(e.args) == 1 and \
                e.args[0].kind in ("array", "map") and self.hot():
            var = self.lookup(obj.name)
            if var is not None and not var.const and self.var_is_list(var) and \
                    name not in self.method_names:
                return self.push_literal(e, var.py)
        if obj.kind in ("var", "this"):
            args = self.args(e.args)
            if obj.kind == "var" and self.lookup(obj.name) is None and obj.name in self.fn_names:
                return (f"_method(_d, {self.const(name)}, [_FnPtr({self.const(obj.name)})]"
                        f"{''.join(', ' + a for a in args)})")
            helper = "_push" if name == "push" and len(args) == 1 else "_method"
            if helper == "_push" and obj.kind == "var":
                var = self.lookup(obj.name)
                if var is not None and not var.const and self.var_is_list(var) and \
                        name not in self.method_names:
                    # onto an array no script function can take: in place, no write-back
                    saved, self.pos = self.pos, (e.line, e.col)
                    result = self.push_onto(var.py, args[0], e.args[0])
                    self.pos = saved
                    return result
            if helper == "_method" and obj.kind == "var":
                direct = self.closure_method(e, args)
                if direct is not None:
                    return direct
            return self.ref_call(e, obj, helper, name, args)
        if obj.kind == "prop":
            guarded = self.guarded_property_method(e)
            if guarded is not None:
                return guarded
        if obj.kind in ("index", "prop"):
            if obj.kind == "index":
                parent, key = self.ex_seq([obj.obj, obj.idx])
            else:
                parent, key = self.ex(obj.obj), self.const(obj.name)
            args = self.args(e.args)
            return (f"_method_at(_d, {self.const(name)}, {parent}, {key}, {obj.kind == 'prop'}"
                    f"{''.join(', ' + a for a in args)})")
        target = self.ex(obj)
        args = self.args(e.args)
        return f"_method(_d, {self.const(name)}, [{target}]{''.join(', ' + a for a in args)})"

    def push_onto(self, array: str, item: str, node: Node) -> str:
        """``array.push(item)`` onto a variable known to hold an array (``item`` is the
        push's own value, copied if it was stored). In code that may run many times, what
        ``Runtime.push_item`` does for a value of no size onto an array whose sizes it
        remembers is done inline (one more element, its entry in ``_known`` updated in
        place, found by ``_known_entry``, the table's ``get``); anything else calls
        ``_push_item``."""
        if not self.hot():
            result = self.tmp()
            self.emit(f"{result} = _push_item({array}, {item})")
            return result
        if not SIMPLE.match(item) and item not in ("None", "True", "False"):
            item = self.stored(item)
        entry = self.tmp("_p")
        no_size = "" if self.is_scalar(node) else f"type({item}) not in _SIZED and "
        self.emit(f"if {no_size}({entry} := _known_entry(_id({array}))) is not None and "
                  f"{entry}[1] == len({array}) and {entry}[0] is {array} and "
                  f"{entry}[2] < {self.max_array}:")
        self.emit(f"    {array}.append({item}); {entry}[1] += 1; {entry}[2] += 1")
        self.emit(f"else: _push_item({array}, {item})")
        return "None"

    def push_literal(self, e: Node, array: str) -> str:
        """``array.push(<array or map literal>)`` onto a variable known to hold an array, in
        code that may run many times: the literal's sizes are measured once, not walked again
        by the push. A literal of scalars and strings (nested literals of those included) has
        sizes known statically but for its strings' bytes (``flat_literal_push``); any other
        is measured by its own check (``_sized_literal``, at the literal's position, the
        errors of ``_map_literal``), whose sizes ``_push_sized`` adds to the array's."""
        node = e.args[0]
        measured = self.literal_sizes(node, True)  # strings of no static size left out
        code, stored, nodes, codes = self.literal_parts(node, named=measured is not None)
        saved, self.pos = self.pos, (node.line, node.col)
        if measured is not None:
            item = self.stored(code)
            strings = [c for n, c in zip(nodes, codes) if self.static_sizes(n) is None]
            self.pos = saved
            self.flat_literal_push(e, array, item, measured, strings)
            return "None"
        item, known = self.tmp(), self.tmp("_s")
        self.emit(f"{item}, {known} = _sized_literal({code}, {stored})")
        self.pos = (e.line, e.col)
        self.emit(f"_push_sized({array}, {item}, {known})")
        self.pos = saved
        return "None"

    def flat_literal_push(self, e: Node, array: str, item: str, sizes: tuple[int, int, int],
                          strings: list[str]) -> None:
        """The push of ``item``, a new literal of the static ``sizes`` plus the bytes of the
        ``strings`` in it: onto an array whose sizes ``_known`` remembers, when the totals
        stay within the limits, appended and its entry grown in place (what ``push_sized``
        does); else the literal's own check (``_sized_literal``, which raises its errors at
        the literal's position) and ``_push_sized``."""
        arrays, maps, chars = sizes
        if strings:
            total = self.tmp("_s")
            measured = " + ".join(f"(len({s}) if {s}.isascii() else _string_bytes({s}))"
                                  for s in strings)
            self.emit(f"{total} = {chars} + {measured}" if chars else f"{total} = {measured}")
            chars = total
        saved, self.pos = self.pos, (e.line, e.col)
        entry = self.tmp("_p")
        self.emit(f"if ({entry} := _known_entry(_id({array}))) is not None and "
                  f"{entry}[1] == len({array}) and {entry}[0] is {array} and "
                  f"{entry}[2] + {1 + arrays} <= {self.max_array} and "
                  f"{entry}[3] + {maps} <= {self.max_map} and "
                  f"{entry}[4] + {chars} <= {self.max_string}:")
        grow = "".join(f"; {entry}[{i}] += {n}" for i, n in ((3, maps), (4, chars)) if n != 0)
        self.emit(f"    {array}.append({item}); {entry}[1] += 1; {entry}[2] += {1 + arrays}{grow}")
        self.emit("else:")
        known = self.tmp("_s")
        self.pos = (e.args[0].line, e.args[0].col)
        self.emit(f"    {item}, {known} = _sized_literal({item}, ())")
        self.pos = (e.line, e.col)
        self.emit(f"    _push_sized({array}, {item}, {known})")
        self.pos = saved

    def closure_method(self, e: Node, args: list[str]) -> str | None:
        """``f.call(args)`` and ``m.name(args)`` on a variable, in code that may run many
        times: when the value is a closure (or, for ``m.name``, a map holding one under
        ``name``) taking exactly these arguments, its code is called straight away, as
        ``Runtime.method`` would call it (a map's closure gets the map as ``this``, in a box
        written back); any other value takes the general path (``ref_call``). Only for a name
        no script function has (``f.call``: ``Runtime.method`` tries those first). None where
        this does not apply."""
        name, arity = e.name, len(args)
        var = self.lookup(e.obj.name)
        if not self.hot() or var is None or var.const or name in self.method_names:
            return None
        if self.var_is_list(var) or self.var_is_str(var) or self.var_is_int(var):
            return None  # statically neither a closure nor a map
        if name == "call":
            if "call" in LIBRARY:
                return None
            fp, guard = var.py, f"type({var.py}) is _FnPtr"
        elif calls_map_fn(name, arity):  # a map's function comes first (``Runtime.method``)
            fp = self.tmp("_f")
            guard = f"type({fp} := {var.py}.get({self.const(name)})) is _FnPtr"
            if not self.var_is_map(var):
                guard = f"type({var.py}) is dict and {guard}"
        else:
            return None
        code, result = self.tmp("_c"), self.tmp()
        saved, self.pos = self.pos, (e.line, e.col)  # the call's line: its errors' position
        args = [a if SIMPLE.match(a) else self.stored(a) for a in args]  # both branches pass
        passed = "".join(", " + a for a in args)
        self.emit(f"if {guard} and ({code} := {fp}.func) is not None and {code}[1] == {arity} "
                  f"and not {fp}.curry:")
        self.indent += 1
        if name == "call":
            self.emit(f"{result} = {code}[0](_d - 1, None{passed})")
        else:
            py, box = self.assign_var(var), self.tmp("_b")
            self.emit(f"{box} = [{py}]")
            self.emit(f"{result} = {code}[0](_d - 1, {box}{passed})")
            self.emit(f"{py} = {box}[0]")
        self.indent -= 1
        self.general_method_branch(e, args, result)
        self.pos = saved
        return result

    def closure(self, e: Node) -> str:
        self.n += 1
        pyname = f"C_{self.n}"
        saved_pos = self.pos
        self.function_once(pyname, e.params, e.body, None, self.frame.inner())
        self.pos = saved_pos
        return f"_closure({self.const('anon$' + str(self.n))}, ({pyname}, {len(e.params)}))"


