"""Compiles a parsed Rhai script to Python source, as Jinja2 compiles templates.

All generated functions live inside ``_factory(_ops)`` (so the operation countdown ``_ops`` is a
fast closure cell): each Rhai function becomes ``F_n(_d, _tb, *params)`` (``_d`` = call levels
left, ``_tb`` = a one-item list holding ``this``, or None) plus, when a direct call with INT
arguments reaches it, a version ``S_n`` specialised for those; the script body becomes
``_main``; closures become nested functions (Python cells give Rhai's capture-by-sharing). A
script without functions and closures is ``_main`` alone, at the top level (see ``flat``).
Variables become locals named ``v_<name>_<n>`` and strings live in a constants table
(``K_<n>``): no user text is ever pasted into the generated code except validated identifiers.
A small static type inference (which variables always hold an INT, an array, a string or a
map) lets integer arithmetic, comparisons and indexing run as plain Python with only an i64 range
check, and binds string, array and map methods to their library overloads; everything else
calls the runtime. Loop iterations and function entries count operations; the
runtime's ``_tick`` enforces the limits.

Each node class has a method (``expr_<Class>``, ``stmt_<Class>``, ``control_<Class>``) found
through tables built once. State of one block or one generated function lives in its ``Frame``
/ ``FunctionFrame`` (``compile_base.py``), switched only by ``Scope`` (``with
self.scope(frame)``); the compiler keeps what the whole compilation shares (output lines,
constants, counters, typing facts).
"""
from __future__ import annotations

import functools
from typing import Any, Callable, ClassVar

from .compile_base import (BLOCK_KINDS, CALL_KINDS, DECLARING_KINDS, ENTER_CHECK, FLOAT_OPS,
                           FOREIGN_KINDS, INT_OPS, MAX_PASSES, RETURN,
                           THIS_BINDING_BUILTINS, CompilerBug, Frame, FunctionFrame, Var,
                           array_sources, declared_by, method_names, unused_values,
                           uses_this, walk)
from .compile_expr import ExpressionCompiler
from .compile_stmt import StatementCompiler
from .corefns import BUILTINS
from .errors import BRACKET, INDEX, PROPERTY, Spot
from .natives import ANY, LIBRARY
from .nodes import FIELDS, Block, FnDef, Node, Script, start_of
from .runtime import calls_map_fn
from .shapes import Hole, is_hole, value_type

STATIC_KINDS = (int, list, str, dict, float)
"""The static types the compiler infers for variables (INT, array, string, map, FLOAT): a
variable is of one when every assignment to it is (``Compiler.var_is``)."""


def retyping_names() -> frozenset[str]:
    """``library_retyping`` for the library as registered now (found once per size of it)."""
    return library_retyping(len(LIBRARY))


@functools.lru_cache(maxsize=1)
def library_retyping(registered: int) -> frozenset[str]:
    """The library functions that may give their by-reference first argument a value of
    another type: those with an overload for any type (``ANY``) that writes a value back
    (``take`` leaves ``()``, Rhai's ``take(value: &mut Dynamic)`` in
    src/packages/lang_core.rs). An overload for one type writes back a value of that type (a
    string, an INT, a char), and one that ``mutates`` changes an array, map or blob in place."""
    return frozenset(name for name, overloads in LIBRARY.items()
                     if any(f.writes_back and f.params and f.params[0] is ANY
                            for f in overloads))


class Compiler(StatementCompiler, ExpressionCompiler):
    """Turns a ``Script`` into Python source plus a line table back to Rhai positions."""

    # node class -> the method compiling it, by name (filled in once below the class)
    EXPR_VISITORS: ClassVar[dict[type, Callable[..., str]]] = {}
    STMT_VISITORS: ClassVar[dict[type, Callable[..., None]]] = {}
    CONTROL_VISITORS: ClassVar[dict[type, Callable[..., None]]] = {}

    def __init__(self, script: Script, outer_fns: frozenset = frozenset(),
                 chunk: int = 1024, max_string_size: int = 0, max_array_size: int = 0,
                 max_map_size: int = 0,
                 eval_vars: tuple[tuple[str, bool, bool], ...] | None = None,
                 trust_scope: bool = True) -> None:
        self.script = script
        self.eval_vars = eval_vars  # the caller's variables, for eval (see ``eval_call``)
        self.max_string = max_string_size or (1 << 62)
        self.max_array = max_array_size or (1 << 62)  # literals of scalars up to these sizes
        self.max_map = max_map_size or (1 << 62)  # need no size check at run time
        self.chunk = chunk
        # per static kind (``STATIC_KINDS``), the declarations whose variable may hold a value
        # of another type
        self.not_of: dict[type, set] = {kind: set() for kind in STATIC_KINDS}
        self.spec_py: dict[tuple[str, int], str] = {}
        self.spec_calls: set[tuple[str, int]] = set()  # S_ versions the current one calls
        self.spec_calls_of: dict[str, set[tuple[str, int]]] = {}  # and each generated one
        self.ret_int: dict[tuple[str, int], bool] = {}
        # INT results of S_ versions relied on by the function being generated, and, per
        # generated function, by its code: when a result is disproved, only the functions
        # that relied on it are generated again (see ``compile``)
        self.ret_assumed: set[tuple[str, int]] = set()
        self.ret_relied: dict[str, set[tuple[str, int]]] = {}
        # per generated script function (F_ and S_, by Python name): whether every value it
        # returns is an array; and as for INT results, the array results relied on by the
        # function being generated and, per generated function, by its code
        self.ret_list: dict[str, bool] = {}
        self.list_assumed: set[str] = set()
        self.list_relied: dict[str, set[str]] = {}
        # the code of each generated function by Python name (in the order first made), and
        # what made it, to make it again
        self.code_of: dict[str, list[list]] = {}
        self.inner_functions = False  # whether closures or ``f!()`` calls were generated
        self.jobs: dict[str, tuple[list[str], Node, FnDef | None, Any]] = {}
        self.tmp_int: dict[str, bool] = {}  # temporaries that hold a control flow's value
        self.inlining: set[tuple[str, int]] = set()
        self.this_users: dict[tuple[str, int], bool] = {}
        self.shared: set = set()  # declarations assigned from a nested function
        self.changed = False  # a typing assumption failed in this pass over a function
        # declarations whose static kind / bounds the code of this pass over a function
        # relied on: only disproving one of those needs another pass (the code made so far
        # asked nothing else of a declaration, so a pass again would make the same)
        self.relied_on: dict[type, set] = {kind: set() for kind in STATIC_KINDS}
        self.relied_bounds: set = set()
        self.outer_fns = outer_fns
        self.n = 0
        self.lines: list[list] = []  # [indent, text, (line, col)]
        self.indent = 0
        self.pos = (1, 1)
        self.consts: dict[Any, str] = {}
        self.const_values: dict[str, Any] = {}
        self.fn_py: dict[tuple[str, int], str] = {}
        self.fn_names = {name for name, _ in script.fns} | {n for n, _ in outer_fns}
        self.method_names = method_names(self.fn_names)
        self.retyping = retyping_names()
        # whether no code a method call may run with its receiver as ``this`` can give it a
        # value of another type (``this_kept``, asked once, when a call needs it: None until
        # then); ``reads_scope``: the code made reads a variable of the host's scope
        self.kept_this: bool | None = None if trust_scope else False
        self.reads_scope = False
        self.frame = Frame(FunctionFrame(False, True))  # the block being compiled
        self.uses_modules = False  # whether the script imports, exports or uses ``m::``
        self.groups: set[str] = set()  # parenthesised expressions (``group``)

    # ---- frames -------------------------------------------------------------------------
    def scope(self, frame: Frame) -> "Scope":
        """``with self.scope(frame):`` compiles in ``frame`` (a nested block or function)."""
        return Scope(self, frame)

    def at_script_top(self) -> bool:
        """Whether code here is at the script's top level (not in a block or a function)."""
        return self.frame.parent is None and self.frame.function.in_main

    def hot(self) -> bool:
        """Whether code here may run many times in a run: in a function, a closure or a loop.
        Only there do the inline fast paths pay for their size; the script's body outside
        loops runs once, so there the generator emits the runtime's generic operation (what
        the fast path falls back to: the same result, error and limits) and CPython has much
        less code to compile."""
        function = self.frame.function
        return not function.once or bool(function.loops)

    # ---- output helpers ----------------------------------------------------------------
    def emit(self, text: str) -> None:
        if self.frame.function.pending:
            self.flush(text)
        self.lines.append([self.indent, text, self.pos])

    def flush(self, before: str = "") -> None:
        """Account the direct calls of INT-specialised functions (``S_``) generated since the
        last line, before the line that makes them: they count one operation each and need a
        call level left, checked here once rather than on entry to every call."""
        function = self.frame.function
        if not function.pending:
            return
        if before.startswith(("else", "elif", "except", "finally")):
            raise CompilerBug(f"calls left to account before '{before}'")
        function.nonlocals.add("_ops")
        self.lines.append([self.indent, f"{ENTER_CHECK.format(function.pending)}", self.pos])
        function.pending = 0

    def tmp(self, prefix: str = "_t") -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    def const(self, value: Any) -> str:
        """The name of ``value`` in the script's constants table (one name per distinct value:
        a FLOAT is told apart by its exact bits, so ``0.0`` and ``-0.0`` get two names)."""
        if is_hole(value):  # a name per hole: each gets its own script's value
            key = (Hole, value.slot, value.negated)
        elif value_type(value) is float:
            key = (float, value.hex())
        else:
            key = (value_type(value), value)
        name = self.consts.get(key)
        if name is None:
            name = f"K_{len(self.consts)}"
            self.consts[key] = name
            self.const_values[name] = value
        return name

    def at(self, node: Node) -> None:
        self.pos = (node.line, node.col)

    @staticmethod
    def spot(link: Node, pos: tuple[int, int]) -> tuple[int, int]:
        """``pos`` for the lines doing ``link``, an indexing or a property access, with the
        positions its errors take (see ``Spot``): an index's type or bounds at the index, a
        missing indexer at the ``[``, a missing property at its name. A method call on an
        element or a property (``_method_at``) reads that link on its line."""
        if link.kind == "method" and link.obj.kind in ("index", "prop"):
            link = link.obj
        if link.kind == "index":
            first = start_of(link.idx)
            return Spot(*pos, {INDEX: (first.line, first.col), BRACKET: link.bracket})
        if link.kind == "prop":
            return Spot(*pos, {PROPERTY: (link.line, link.col)})
        return pos

    def source(self) -> tuple[str, list[tuple[int, int]]]:
        """The generated Python text, and the Rhai position of each of its lines (from 1)."""
        out, table = [], [(0, 0)]
        for indent, text, pos in self.lines:
            out.append("    " * indent + text)
            table.append(pos)
        return "\n".join(out) + "\n", table

    # ---- whole script ------------------------------------------------------------------
    def compile(self) -> tuple[str, list, dict[tuple[str, int], str], dict[str, Any], bool]:
        """Each script function gets a generic version ``F_`` (used by dynamic calls) and, if
        it has parameters, a version ``S_`` specialised for INT arguments, which direct calls
        with INT arguments use (made only if such a call is reached, see
        ``specialised_versions``); its result is INT when every returned value is."""
        may_return_lists = self.may_return_lists()
        for i, key in enumerate(self.script.fns):
            py_name = key[0].replace(".", "_")  # a typed method ``i64.calc``
            self.fn_py[key] = f"F_{i}_{py_name}"
            self.ret_list[self.fn_py[key]] = key in may_return_lists
            if key[1]:
                self.spec_py[key] = f"S_{i}_{py_name}"
                self.ret_int[key] = True
                self.ret_list[self.spec_py[key]] = key in may_return_lists
        self.emit("def _factory(_ops):")
        self.indent += 1
        self.all_functions()
        for attempt in range(MAX_PASSES + 1):
            stale = self.stale_functions()
            if not stale:
                break
            if attempt == MAX_PASSES:  # results will not settle: assume no typed results
                self.ret_int = dict.fromkeys(self.ret_int, False)
                self.ret_list = dict.fromkeys(self.ret_list, False)
                self.code_of.clear()
                self.ret_relied.clear()
                self.list_relied.clear()
                self.all_functions()
                break
            for pyname in stale:  # their code took a disproved result for an INT
                self.generate(pyname, *self.jobs[pyname])
            self.specialised_versions()
        if self.flat():
            del self.lines[0]  # no ``_factory``: ``_main`` at the top level
            for line in self.code_of["_main"]:
                line[0] -= 1
            self.lines += self.code_of["_main"]
        else:
            for lines in self.code_of.values():
                self.lines += lines
            names = ["_main", *self.fn_py.values()]
            self.emit("return {" + ", ".join(f"{name!r}: {name}" for name in names) + "}")
        self.indent -= 1
        src, table = self.source()
        return src, table, self.fn_py, self.const_values, self.uses_modules

    def may_return_lists(self) -> set[tuple[str, int]]:
        """The script functions whose result typing may find an array: those with an array
        literal in their body, or a direct call of another such. The others start as not
        returning arrays, so that their callers, generated first, take no result of theirs
        for an array and need no second generation when it is disproved."""
        calls: dict[tuple[str, int], set[tuple[str, int]]] = {}
        found = set()
        for key, fn in self.script.fns.items():
            calls[key] = set()
            if array_sources(fn.body, calls[key]):
                found.add(key)
        grown = True
        while grown:
            grown = False
            for key, called in calls.items():
                if key not in found and not called.isdisjoint(found):
                    found.add(key)
                    grown = True
        return found

    def stale_functions(self) -> list[str]:
        """The generated functions whose code took a result for an INT or an array that the
        code of its function has since disproved: they must be generated again."""
        return [pyname for pyname, relied in self.ret_relied.items()
                if not all(self.ret_int[key] for key in relied)
                or not all(self.ret_list[name] for name in self.list_relied[pyname])]

    def flat(self) -> bool:
        """Whether the script is its body alone (no functions, no closures or ``f!()``
        calls): then ``_main`` is generated at the top level of the module, not in
        ``_factory``, and the countdown ``_ops`` is a global of the run's namespace (see
        ``engine.countdown_access``). That is one nested function less for CPython's
        ``compile()``, at no cost when running: only the body's entry and its loops, once per
        chunk or per loop, touch the countdown."""
        return not self.script.fns and not self.inner_functions

    def all_functions(self) -> None:
        """Generate every function: the ``F_`` versions, ``_main`` and the ``S_`` versions
        they reach."""
        for key, fn in self.script.fns.items():
            self.generate(self.fn_py[key], fn.params, fn.body, fn)
        self.generate("_main", [], Block(1, 1, stmts=self.script.stmts), None)
        self.specialised_versions()

    def specialised_versions(self) -> None:
        """Generate the ``S_`` versions that direct calls reach (from ``_main``, an ``F_`` or
        another reached ``S_``) and are not made yet, and drop those no longer reached (after
        a function was generated again): only generated code calls them, so the others are
        never kept (they would be dead weight for CPython's ``compile()``)."""
        spec_names = set(self.spec_py.values())
        reached: list[tuple[str, int]] = []
        callers = [pyname for pyname in self.code_of if pyname not in spec_names]
        done = 0
        while done < len(callers):
            calls = self.spec_calls_of[callers[done]]
            done += 1
            for key in sorted(calls.difference(reached)):
                reached.append(key)
                pyname = self.spec_py[key]
                if pyname not in self.code_of:
                    fn = self.script.fns[key]
                    self.generate(pyname, fn.params, fn.body, fn, key)
                callers.append(pyname)
        for key in set(self.spec_py).difference(reached):
            pyname = self.spec_py[key]
            if pyname in self.code_of:
                del self.code_of[pyname], self.ret_relied[pyname], self.list_relied[pyname]

    def generate(self, pyname: str, params: list[str], body: Node, fn: FnDef | None,
                 spec: Any = None) -> None:
        """Generate (again) the function ``pyname`` of the factory; its code is kept apart
        (``code_of``), with the INT results of other functions it relied on."""
        start = len(self.lines)
        self.function(pyname, params, body, fn, spec)
        self.code_of[pyname] = self.lines[start:]
        del self.lines[start:]
        self.jobs[pyname] = (params, body, fn, spec)
        self.ret_relied[pyname] = self.ret_assumed
        self.list_relied[pyname] = self.list_assumed
        self.spec_calls_of[pyname] = self.spec_calls

    def this_kept(self) -> bool:
        """Whether no code that a method call may run with its receiver bound to ``this`` can
        give ``this`` a value of another type. Such code is a script function (a method of
        its name), a function pointer's (a map's property of the method's name comes first,
        Rhai's ``make_method_call``, src/func/call.rs: "Check if it is a map method call in
        OOP style"; ``x.call(fp)``): a closure or script function of this script, or a
        library function named by ``Fn``. That holds when this script's code replaces no
        ``this`` (assigns none, passes none to ``take``) and every function pointer it can
        meet is its own: it
        names no function with ``Fn`` but its own by a literal, has no ``eval``, no modules,
        reads no variable it does not declare (the host's scope may hold function pointers),
        and uses the result of no call that may reach a host function (a name that is no
        script function, engine built-in or library function)."""
        if self.eval_vars is not None or self.outer_fns:
            return False  # the caller's code and values are not this compilation's
        fns = self.script.fns.values()
        declared = {param for fn in fns for param in fn.params}
        read: set[str] = set()
        unused: set[int] = set()  # expressions whose value nothing uses
        calls = []
        for node in walk([self.script.stmts, [fn.body for fn in fns]]):
            kind = node.kind
            if kind in CALL_KINDS:
                calls.append(node)
                if self.passes_this_to_retyping(node):
                    return False
            elif kind == "var":
                read.add(node.name)
            elif kind == "assign":
                if node.target.kind == "this":  # src/eval/stmt.rs: an ``Expr::ThisPtr`` target
                    return False
            elif kind in FOREIGN_KINDS:
                return False
            elif kind in DECLARING_KINDS:
                declared.update(declared_by(node))
            if kind in BLOCK_KINDS:
                unused.update(unused_values(node))
        unused.update(id(s.e) for s in self.script.stmts[:-1] if s.kind == "expr")
        if not read <= declared | self.fn_names:
            return False  # a variable of the host's scope, or one an ``eval`` made
        if not read.isdisjoint(self.unsafe_pointer_names()):
            return False  # a function pointer (``f.call()`` of ``fn f``) that may reach one
        known = self.fn_names | self.method_names | BUILTINS.keys() | LIBRARY.keys()
        return all(node.name != "eval" and (node.name != "Fn" or self.names_own_fn(node))
                   and (node.name in known or id(node) in unused) for node in calls)

    def passes_this_to_retyping(self, node: Node) -> bool:
        """Whether the call ``node`` passes ``this`` by reference, as a method's receiver or
        a call's first argument, to a function that may give it another type (``take``)."""
        if node.name not in self.retyping:
            return False
        first = node.obj if node.kind == "method" else (node.args[0] if node.args else None)
        return first is not None and first.kind == "this"

    def names_own_fn(self, node: Node) -> bool:
        """Whether ``node`` is ``Fn("name")`` naming a script function of this script (whose
        name no library function or engine built-in that a call of another arity reaches
        could make unsafe, ``unsafe_pointer_names``)."""
        return node.kind == "call" and len(node.args) == 1 and node.args[0].kind == "lit" \
            and node.args[0].value in self.fn_names \
            and node.args[0].value not in self.unsafe_pointer_names()

    def unsafe_pointer_names(self) -> frozenset[str]:
        """Names a function pointer may not have for ``this_kept``: a pointer whose script
        function does not take its arguments calls the library or built-in of its name
        (``Runtime.call_fn_ptr``), and these may retype ``this`` (``take``), make a pointer of
        any name (``Fn``) or run code of any text (``eval``)."""
        return self.retyping | {"Fn", "eval"}

    def call_keeps(self, kind: type, name: str, arity: int, method: bool) -> bool:
        """Whether a by-reference call ``name`` with ``arity`` other arguments (``method``:
        ``x.name(...)``, else ``name(x, ...)``) keeps the static ``kind`` (one of
        ``KEPT_BY_METHODS``) of its receiver ``x``: no library function of that name gives a
        value of another type (``retyping_names``), and any script code it may run with ``x``
        as ``this`` (a script function of that name, ``call``, a function pointer that a map
        holds under that name) can replace no ``this`` (``this_kept``). A call in function
        style binds no ``this`` (script functions get copies, Rhai's ``make_function_call``)."""
        if name in self.retyping:
            return False
        runs_script = name in THIS_BINDING_BUILTINS or method and (
            name in self.method_names or (kind is dict and calls_map_fn(name, arity)))
        if not runs_script:
            return True
        if self.kept_this is None:
            self.kept_this = self.this_kept()
        return self.kept_this

    def fn_uses_this(self, key: tuple[str, int]) -> bool:
        """Whether a script function refers to ``this`` (its INT version then takes it)."""
        if key not in self.this_users:
            self.this_users[key] = uses_this(self.script.fns[key].body)
        return self.this_users[key]

    def int_params(self, key: tuple[str, int]) -> list[int]:
        """Parameters of a script function that its specialised version takes as INT."""
        return [i for i in range(key[1]) if ("param", key, i) not in self.not_of[int]]

    def use_spec(self, key: tuple[str, int], args: list[Node]) -> bool:
        """Whether a call of ``key`` with ``args`` goes to its INT version (which is then
        generated: its code is what proves the INT result that typing may assume here)."""
        if key not in self.spec_py:
            return False
        wanted = self.int_params(key)
        if wanted and all(self.is_int(args[i]) for i in wanted):
            self.spec_calls.add(key)
            return True
        return False

    def prologue(self) -> None:
        """Every generated function checks the call depth and counts one operation, in one
        test (``_enter`` takes the caller's call levels left: too deep, or the countdown ran
        out)."""
        self.emit("if not (_d and (_ops := _ops - 1)): _enter(_d + 1)")

    def function(self, pyname: str, params: list[str], body: Node, fn: FnDef | None,
                 spec: Any = None) -> None:
        """Compile a script function or the script's body (in a frame of its own), again
        until the INT typing is stable."""
        mark, n = len(self.lines), self.n
        for attempt in range(MAX_PASSES + 1):
            self.changed = False
            self.relied_on = {kind: set() for kind in STATIC_KINDS}
            self.relied_bounds = set()
            self.ret_assumed = set()
            self.list_assumed = set()
            self.spec_calls = set()
            # a script that will not settle: no typing
            main = pyname == "_main"
            function = FunctionFrame(main, attempt < MAX_PASSES, once=main, version=pyname)
            self.function_once(pyname, params, body, fn, Frame(function), spec)
            if not self.changed or attempt == MAX_PASSES:
                return
            del self.lines[mark:]
            self.n = n

    def function_once(self, pyname: str, params: list[str], body: Node, fn: FnDef | None,
                      frame: Frame, spec: Any = None) -> None:
        """Compile a function whose root frame is ``frame`` (its own, or the ``inner()`` of
        the block that creates a closure)."""
        if fn is not None:
            self.pos = (fn.line, fn.col)
        if frame.parent is not None:  # a closure or an ``f!()`` call, in the block creating it
            self.inner_functions = True
        pys = []
        function = frame.function
        for i, p in enumerate(params):
            py = self.tmp(f"v_{p}_")
            pys.append(py)
            key = ("param", spec, i) if spec else None
            if key is not None:  # typed as an INT at most: never statically of another kind
                for kind in STATIC_KINDS[1:]:
                    self.not_of[kind].add(key)
            frame.symbols[p] = Var(p, py, False, function, key)
        tb = "" if spec and not self.fn_uses_this(spec) else "_tb, "
        self.emit(f"def {pyname}(_d, {tb}{', '.join(pys)}):")
        self.indent += 1
        function.nonlocal_slot = len(self.lines)
        self.emit("pass")
        with self.scope(frame):
            self.function_body(pyname, body, spec)
            if function.open_loops:
                self.count_loops_on_exit(function)
        self.indent -= 1

    def count_loops_on_exit(self, function: FunctionFrame) -> None:
        """Put the function's body (after its ``nonlocal`` line) in a ``try`` whose handler
        counts the iterations of loops that an error (or ``return``) left (see
        ``open_loop``); their flags start False. Without a ``return`` inside a loop only an
        error can leave one early, and a bare ``except:`` (re-raising; any exception, as
        ``finally``, with the traceback unchanged) does: CPython
        compiles a ``finally`` twice (for the normal and the exceptional exit), so it costs
        ``compile()`` twice as much; on the normal exit the flags are all False and the
        countdown was checked wherever it went down, so the handler would do nothing there.
        CPython 3.11 makes entering the ``try`` free."""
        start = function.nonlocal_slot + 1
        for line in self.lines[start:]:
            line[0] += 1
        pos = self.lines[start - 1][2]
        flags = " = ".join(flag for flag, _ in function.open_loops)
        self.lines[start:start] = [[self.indent, f"{flags} = False", pos],
                                   [self.indent, "try:", pos]]
        self.emit("finally:" if function.returns_in_loop else "except:")
        self.indent += 1
        self.count_loops_left(function.open_loops, reset=False)
        if not function.returns_in_loop:
            self.emit("raise")
        self.indent -= 1

    def function_body(self, pyname: str, body: Node, spec: Any) -> None:
        function = self.frame.function
        function.nonlocals.add("_ops")  # loops and calls count operations
        if not spec:  # an S_ function's callers check and count for it (see ``flush``)
            self.prologue()
        in_caller_scope = pyname == "_main" and self.eval_vars is not None
        if in_caller_scope:
            unset_slot, caller_vars = self.enter_caller_scope()
        stmts = body.stmts if body.kind == "block" else []
        last = stmts[-1].e if stmts and stmts[-1].kind == "expr" else None
        if last is not None and (last.kind == "block" or (last.kind == "if" and last.els)):
            for st in stmts[:-1]:
                self.stmt(st)
            self.at(stmts[-1])
            self.control(last, RETURN)  # each branch returns its value directly
        elif body.kind == "block":
            self.branch_body(body, RETURN)  # the last value returned directly
        else:
            self.emit(f"return {self.copied(body)}")
            self.returned(body)
        if in_caller_scope:
            self.leave_caller_scope(unset_slot, caller_vars)
        if spec and not function.ret_int:
            # code generated so far that took the result for an INT is generated again
            self.ret_int[spec] = False
        if pyname in self.ret_list and not function.ret_list:
            self.ret_list[pyname] = False  # as for INT results
        if pyname == "_main" and self.flat():
            self.lines[function.nonlocal_slot][1] = "global _ops"  # see ``flat``
        elif function.nonlocals:
            self.lines[function.nonlocal_slot][1] = \
                "nonlocal " + ", ".join(sorted(function.nonlocals))

    def enter_caller_scope(self) -> tuple[int, list[Var]]:
        """An ``eval`` script runs in its caller's scope (Rhai ``src/eval/expr.rs``): the
        caller's variables become its top-level variables, and every top-level variable is
        handed back (``_EVALVARS``) when it ends, however it ends."""
        for kind in STATIC_KINDS:  # the caller's values may have any type
            self.not_of[kind].add("caller")
        caller_vars = []
        for name, const, _ in self.eval_vars or ():
            py = self.tmp(f"v_{name}_")
            caller_vars.append(Var(name, py, const, self.frame.function, "caller"))
            self.frame.symbols[name] = caller_vars[-1]
            self.emit(f"{py} = _EVALVARS[{self.const(name)}]")
        slot = len(self.lines)
        self.emit("pass")  # becomes the initialisation of the top-level variables
        self.emit("try:")
        self.indent += 1
        return slot, caller_vars

    def leave_caller_scope(self, unset_slot: int, caller_vars: list[Var]) -> None:
        self.indent -= 1
        top = self.frame.symbols
        new = [var.py for var in top.values() if var.key != "caller"]
        if new:
            self.lines[unset_slot][1] = " = ".join(new) + " = _UNSET"
        self.emit("finally:")
        for target, variables in (("_EVALVARS", caller_vars),
                                  ("_EVALNEW", [v for v in top.values() if v.key != "caller"])):
            pairs = ", ".join(f"{self.const(var.name)}: {var.py}" for var in variables)
            self.emit(f"    _eval_out({target}, {{{pairs}}})")

    # ---- scopes ---------------------------------------------------------------------------
    def declare(self, name: str, const: bool = False, key: Any = None,
                is_int: bool = False, is_list: bool = False, is_str: bool = False,
                is_map: bool = False, is_float: bool = False) -> str:
        """A new variable; ``key`` identifies its declaration for INT/array/string/map/FLOAT
        typing, in the generated function being made (``FunctionFrame.version``): in an S_
        version, where parameters are INTs, a declaration may have a type it lacks in the
        F_ version of the same function."""
        py = self.tmp(f"v_{name}_")
        if key is not None:
            key = (self.frame.function.version, key)
            for kind, holds in ((int, is_int), (list, is_list), (str, is_str), (dict, is_map),
                                (float, is_float)):
                if not holds:
                    self.not_of[kind].add(key)
        self.frame.symbols[name] = Var(name, py, const, self.frame.function, key)
        return py

    def var_is(self, var: Var | None, kind: type) -> bool:
        """Whether ``var`` is statically of ``kind`` (one of ``STATIC_KINDS``); the code made
        from this answer relies on it: see ``demote_from``."""
        if self.frame.function.typing and var is not None and var.key is not None and \
                var.key not in self.not_of[kind]:
            self.relied_on[kind].add(var.key)
            return True
        return False

    def still_of(self, var: Var, kind: type) -> bool:
        """Whether ``var`` may still be statically of ``kind`` (nothing disproved it yet)."""
        return var.key is not None and var.key not in self.not_of[kind]

    def demote_from(self, var: Var, kind: type) -> None:
        """``var`` may hold a value that is not of ``kind`` after all: recompile without that
        assumption if code made so far relied on it."""
        if var.key is not None and var.key not in self.not_of[kind]:
            self.not_of[kind].add(var.key)
            self.changed = self.changed or var.key in self.relied_on[kind]

    def var_is_int(self, var: Var | None) -> bool:
        """Whether ``var`` is statically an INT."""
        return self.var_is(var, int)

    def var_is_list(self, var: Var | None) -> bool:
        """Whether ``var`` is statically an array."""
        return self.var_is(var, list)

    def var_is_str(self, var: Var | None) -> bool:
        """Whether ``var`` is statically a string."""
        return self.var_is(var, str)

    def var_is_map(self, var: Var | None) -> bool:
        """Whether ``var`` is statically a map."""
        return self.var_is(var, dict)

    def var_is_float(self, var: Var | None) -> bool:
        """Whether ``var`` is statically a FLOAT."""
        return self.var_is(var, float)

    def demote(self, var: Var) -> None:
        """``var`` may hold a non-INT after all."""
        self.demote_from(var, int)

    def demote_float(self, var: Var) -> None:
        """``var`` may hold a non-FLOAT after all."""
        self.demote_from(var, float)

    def demote_list(self, var: Var) -> None:
        """``var`` may hold a non-array after all."""
        self.demote_from(var, list)

    def demote_str(self, var: Var) -> None:
        """``var`` may hold a non-string after all."""
        self.demote_from(var, str)

    def demote_map(self, var: Var) -> None:
        """``var`` may hold a non-map after all."""
        self.demote_from(var, dict)

    def is_str(self, e: Node) -> bool:
        """Whether ``e`` is statically a string: a string literal, an interpolation, or a
        variable whose every assignment is one of those (or a string method's write-back)."""
        if e.kind == "lit":
            return value_type(e.value) is str
        if e.kind == "interp":
            return True
        if e.kind == "var":
            return self.var_is_str(self.lookup(e.name))
        return False

    def is_map(self, e: Node) -> bool:
        """Whether ``e`` is statically a map: a map literal, or a variable whose every
        assignment is one (or another such variable)."""
        if e.kind == "map":
            return True
        if e.kind == "var":
            return self.var_is_map(self.lookup(e.name))
        return False

    def is_list(self, e: Node) -> bool:
        """Whether ``e`` is statically an array: an array literal, a variable whose every
        assignment is one, or a direct call of a script function whose every returned value
        is one (``returns_list``)."""
        if e.kind == "array":
            return True
        if e.kind == "var":
            return self.var_is_list(self.lookup(e.name))
        if e.kind == "call":
            return self.returns_list(e)
        return False

    def returns_list(self, e: Node) -> bool:
        """Whether the call ``e`` goes straight to a generated script function (its ``S_``
        version when ``use_spec``, else its ``F_``) whose result the last code made of it
        proved an array; the code made from this answer relies on it (``list_relied``)."""
        key = (e.name, len(e.args))
        if e.bang or key not in self.fn_py or not self.frame.function.typing:
            return False
        pyname = self.spec_py[key] if self.use_spec(key, e.args) else self.fn_py[key]
        if self.ret_list[pyname]:
            self.list_assumed.add(pyname)
            return True
        return False

    def is_scalar(self, e: Node) -> bool:
        """Whether ``e`` is statically a value without size (an INT, a non-string literal)."""
        return (e.kind == "lit" and value_type(e.value) is not str) or self.is_int(e)

    def static_sizes(self, e: Node) -> tuple[int, int, int] | None:
        """Rhai's data sizes of ``e`` when known at compile time (scalars, string literals and
        array/map literals of those), else None."""
        if e.kind == "lit" and value_type(e.value) is str:
            if is_hole(e.value):
                return None  # a string of unknown size
            return 0, 0, len(e.value.encode("utf-8", "surrogatepass"))
        if self.is_scalar(e):
            return 0, 0, 0
        if e.kind not in ("array", "map"):
            return None
        return self.literal_sizes(e, False)

    def literal_sizes(self, e: Node, strings_measured: bool) -> tuple[int, int, int] | None:
        """Rhai's data sizes of the array or map literal ``e`` from those of its items
        (``static_sizes``); None when an item's are not known, but for an item that is a
        string when ``strings_measured`` (its bytes, left out, are measured at run time)."""
        values = e.items if e.kind == "array" else [v for _, v in e.items]
        arrays, maps = (len(values), 0) if e.kind == "array" else (0, len(values))
        chars = 0
        for value in values:
            sizes = self.static_sizes(value)
            if sizes is None:
                if strings_measured and self.is_str(value):
                    continue
                return None
            arrays, maps, chars = arrays + sizes[0], maps + sizes[1], chars + sizes[2]
        return arrays, maps, chars

    def within_limits(self, sizes: tuple[int, int, int] | None) -> bool:
        """Whether statically known ``sizes`` fit the limits (no run-time check needed)."""
        return sizes is not None and sizes[0] <= self.max_array and sizes[1] <= self.max_map \
            and sizes[2] <= self.max_string

    def is_int(self, e: Node) -> bool:
        """Whether ``e`` is statically an INT (or raises): drives the unchecked fast paths."""
        k = e.kind
        if k == "lit":
            return value_type(e.value) is int
        if k == "var":
            return self.var_is_int(self.lookup(e.name))
        if k == "binary":
            return e.op in INT_OPS and e.r is not None and self.is_int(e.l) and self.is_int(e.r)
        if k == "unary":
            return e.op in ("-", "+") and self.is_int(e.e)
        if k == "call":
            key = (e.name, len(e.args))
            if self.use_spec(key, e.args) and self.ret_int[key]:
                self.ret_assumed.add(key)
                return True
            return False
        return False

    def is_float(self, e: Node) -> bool:
        """Whether ``e`` is statically a FLOAT (or raises): a FLOAT literal or variable, ``+ - *
        /`` of a FLOAT and a FLOAT or INT, a negated FLOAT, or a library method bound at
        compile time (``bound_native``) that promises FLOAT results."""
        k = e.kind
        if k == "lit":
            return value_type(e.value) is float
        if k == "var":
            return self.var_is_float(self.lookup(e.name))
        if k == "binary":
            return e.op in FLOAT_OPS and e.r is not None and self.float_pair(e.l, e.r)
        if k == "unary":
            return e.op in ("-", "+") and self.is_float(e.e)
        if k == "method":
            call = self.bound_native(e)
            return call is not None and call.returns is float
        return False

    def float_pair(self, a: Node, b: Node) -> bool:
        """Whether ``a`` and ``b`` are a FLOAT and a FLOAT or INT, in either order (their
        ``+ - * /`` is a FLOAT; Python promotes the INT as Rhai does)."""
        if self.is_float(a):
            return self.is_float(b) or self.is_int(b)
        return self.is_int(a) and self.is_float(b)

    def lookup(self, name: str) -> Var | None:
        return self.frame.lookup(name)

    def visible(self) -> dict[str, str]:
        return {name: var.py for name, var in self.frame.visible_vars().items()}

    def assign_var(self, var: Var) -> str:
        function = self.frame.function
        if var.function is not function:
            function.nonlocals.add(var.py)
            if var.key is not None and var.key not in self.shared:
                self.shared.add(var.key)  # a closure may change it at any call: no bounds
                self.changed = self.changed or var.key in self.relied_bounds
        return var.py

    def block_scope(self) -> "Scope":
        """A nested block: ``with self.block_scope(): ...``."""
        return Scope(self, self.frame.soft())

    def lookup_module(self, alias: str) -> str:
        """The Python local holding the module imported as ``alias`` in an enclosing block,
        or "None": the run looks it up among the modules its top level imported."""
        return self.frame.lookup_module(alias) or "None"


class Scope:
    """The one place the compiler's current frame changes: ``frame`` while the ``with``
    lasts, then the previous one again (a class, cheaper than ``contextlib``)."""

    __slots__ = ("compiler", "frame", "saved")

    def __init__(self, compiler: Compiler, frame: Frame) -> None:
        self.compiler, self.frame = compiler, frame

    def __enter__(self) -> Frame:
        self.saved, self.compiler.frame = self.compiler.frame, self.frame
        return self.frame

    def __exit__(self, *exc_info: object) -> None:
        self.compiler.frame = self.saved


def visitors(cls: type, prefix: str) -> dict[type, Callable]:
    """{node class: method} for the methods of ``cls`` named ``prefix`` + a node class name."""
    return {node: getattr(cls, prefix + node.__name__) for node in FIELDS
            if hasattr(cls, prefix + node.__name__)}


Compiler.EXPR_VISITORS = visitors(Compiler, "expr_")
Compiler.STMT_VISITORS = visitors(Compiler, "stmt_")
Compiler.CONTROL_VISITORS = visitors(Compiler, "control_")


def compile_script(script: Script, outer_fns: frozenset = frozenset(),
                   chunk: int = 1024, max_string_size: int = 0, max_array_size: int = 0,
                   max_map_size: int = 0,
                   eval_vars: tuple[tuple[str, bool, bool], ...] | None = None
                   ) -> tuple[str, list, dict, dict, bool]:
    """Python source, line table, {(name, arity): python name}, constants and whether it uses
    modules, for a script; ``eval_vars`` compiles the body of an ``eval`` that runs in its
    caller's scope."""
    compiler = Compiler(script, outer_fns, chunk, max_string_size, max_array_size,
                        max_map_size, eval_vars)
    made = compiler.compile()
    if compiler.kept_this and compiler.reads_scope:  # a name read out of its declaration's
        # block: this_kept took it for declared
        made = Compiler(script, outer_fns, chunk, max_string_size, max_array_size,
                        max_map_size, eval_vars, trust_scope=False).compile()
    return made
