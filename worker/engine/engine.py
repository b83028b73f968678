"""The public ``Engine``: compile Rhai source to Python code objects and run them under limits.

A ``CompiledScript`` holds the Python code object (compiled once, reusable); a run execs it into
a namespace of its own with a runtime of its own (``Engine._namespace``), and errors are mapped
back to Rhai positions. Building that namespace is most of the cost of a small script, so the
engine keeps a few idle ones per compiled script and reuses them, reset (``Engine.eval``).
"""
from __future__ import annotations

import collections
import itertools
import os
import sys
import time
import types
import weakref
from typing import Any, Callable, NamedTuple

from . import ops
from .budget import CompileBudget
from .codecache import compile_text
from .compile_base import method_names
from .compiler import compile_script
from .errors import (EvalError, LimitError, ParseError, RhaiError, ScriptExit, in_native_call,
                     Spot, wrapped_error)
from .modules import (Module, ModuleResolver, ModuleRuntime, ModuleView, RunModules, bindings,
                      exported_variables, in_module)
from .lexer import tokenize
from .parser import parse_tokens
from .runtime import (Runtime, call_levels, chunk_size, const_fail, from_python, i64, irange,
                      partial_chunk, switch_range, UNSET, eval_out,
                      switch_value, to_python)
from .shapes import (MAX_SOURCE_CHARS, REFUSED, Seen, Shaped, ShapeCache, filled, holed,
                     shape_of, text_template)
from .sizes import SIZED, string_bytes
from .values import INT_MAX, FnPtr

DEFAULT_LIMITS = {
    "max_operations": 5_000_000,
    "max_call_levels": 64,
    "max_expr_depth": 64,
    "max_string_size": 10 * 1024 * 1024,
    "max_array_size": 100_000,
    "max_map_size": 100_000,
    "timeout": 10.0,
    "max_script_size": 1024 * 1024,
    "max_ast_size": 20_000,
    "max_functions": 256,
}
_ids = itertools.count(1)
_scripts: "weakref.WeakValueDictionary[str, CompiledScript]" = weakref.WeakValueDictionary()
SAFE_BUILTINS = {"type": type, "len": len, "enumerate": enumerate, "int": int, "list": list,
                 "bool": bool, "str": str, "float": float, "dict": dict, "IndexError": IndexError}


class Generated(NamedTuple):
    """What code generation makes of a script, before CPython's ``compile()``."""
    python_source: str
    table: list
    fn_py: dict
    consts: dict
    uses_modules: bool
    private_fns: frozenset


class CompiledScript:
    """A compiled Rhai script: run it any number of times with ``Engine.eval``/``Engine.run``."""

    def __init__(self, code: Any, table: list, fn_py: dict, consts: dict, filename: str,
                 python_source: str, source: str, settings: tuple,
                 uses_modules: bool = False, private_fns: frozenset = frozenset(),
                 shape: "CompiledScript | None" = None) -> None:
        self.code = code
        self.uses_modules = uses_modules  # imports, exports or ``m::`` (see modules.py)
        self.private_fns = private_fns  # (name, arity) of ``private fn``s: never exported
        self.source = source
        self.settings = settings  # the compile-time limits baked into the code
        self.table = table
        self.fn_py = fn_py
        self.consts = consts
        self.filename = filename
        self.python_source = python_source
        # engine -> prepared runs of this script that ended and were reset, for its next runs
        # (see ``Engine.eval``); they go when the script goes (nothing in them refers to it)
        self.idle: dict[Engine, collections.deque[tuple[dict, Runtime]]] = {}
        # for a script filled in from its shape's template (see shapes.py): the template,
        # whose code, file name (for ``locate``) and prepared runs it shares; a run taken
        # from them gets this script's constants
        self.shape = shape
        if shape is not None:
            self.idle = shape.idle


def locate(exc: BaseException) -> tuple[int, int]:
    """The Rhai position of the innermost compiled-script frame in ``exc``'s traceback: its
    line's, or the one its ``Spot`` gives the error's anchor (e.g. the ``[`` of an indexing)."""
    pos = (0, 0)
    tb = exc.__traceback__
    while tb is not None:
        script = _scripts.get(tb.tb_frame.f_code.co_filename)
        if script is not None and 0 < tb.tb_lineno < len(script.table):
            pos = script.table[tb.tb_lineno]
        tb = tb.tb_next
    return pos.of(exc) if type(pos) is Spot else pos


def call_chain(exc: BaseException) -> list[tuple[str, tuple[int, int]]]:
    """The script calls ``exc`` went through, outermost first: for each script function or
    closure entered, its Rhai name ('' for a closure) and the position of the call."""
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        script = _scripts.get(tb.tb_frame.f_code.co_filename)
        if script is not None and 0 < tb.tb_lineno < len(script.table):
            frames.append((tb.tb_frame.f_code.co_name, script.table[tb.tb_lineno], script))
        tb = tb.tb_next
    chain = []
    for (_, call_pos, _), (pyname, _, script) in zip(frames, frames[1:]):
        if pyname.startswith("C_"):
            chain.append(("", call_pos))
        elif pyname.startswith(("F_", "S_")):
            names = {py: key[0] for key, py in script.fn_py.items()}
            name = names.get("F_" + pyname[2:], pyname)
            chain.append((name.rpartition(".")[2], call_pos))
    return chain


def in_function_call(exc: RhaiError) -> RhaiError:
    """Rhai's ``ErrorInFunctionCall``: an error inside script functions/closures is wrapped
    once per call, the message growing "in call to function 'f' (line, position)" lines
    (src/func/script.rs); system errors (limits, parse errors) only take the outermost call's
    position. ``exc`` must still have its traceback."""
    chain = call_chain(exc)
    if not chain:
        return exc
    if isinstance(exc, (LimitError, ParseError)) or exc.kind == "ErrorInFunctionCall":
        if isinstance(exc, LimitError) or not exc.line:
            exc.line, exc.position = chain[0][1]
        return exc
    text = str(exc)
    for name, (line, col) in reversed(chain[1:]):
        label = f"in call to function '{name}'" if name else "in closure call"
        text += f"\n{label} (line {line}, position {col})"
    name, (line, col) = chain[0]
    text += f"\nin call to function '{name}'" if name else "\nin closure call"
    return wrapped_error(exc, text, "ErrorInFunctionCall", {"function": name, "source": ""},
                         line, col)


def countdown_access(ns: dict, main: Any) -> tuple[Callable[[int], int], Callable[[int], None]]:
    """Take operations off (``take(n)`` gives what is left; ``take(0)`` reads it) and set a
    run's operation countdown: the ``_ops`` cell its generated functions share, found in the
    closure of its ``_main``, or, for a script that is its body alone (no ``_factory``, see
    ``Compiler.flat``), the global ``_ops`` of its namespace ``ns``. Taking is one call, as
    the library's counting (``Runtime.charge``) needs it."""
    if "_ops" not in main.__code__.co_freevars:
        def take_global(n: int) -> int:
            left = ns["_ops"] - n
            ns["_ops"] = left
            return left

        def set_global(value: int) -> None:
            ns["_ops"] = value

        return take_global, set_global
    cell = main.__closure__[main.__code__.co_freevars.index("_ops")]

    def take_ops(n: int) -> int:
        left = cell.cell_contents - n
        cell.cell_contents = left
        return left

    def set_ops(value: int) -> None:
        cell.cell_contents = value

    return take_ops, set_ops


def as_rhai_error(exc: Exception) -> RhaiError:
    """What a failed run reports: a RhaiError with the script position where it happened."""
    line, col = locate(exc)
    line, col = line or 1, col or 1
    if isinstance(exc, RhaiError):
        exc.at(line, col)
        return in_function_call(exc).with_traceback(None)
    if isinstance(exc, RecursionError):
        return LimitError("max_call_levels", "Stack overflow: calls or values nested too "
                          "deeply (max_call_levels)", line, col, kind="ErrorStackOverflow")
    if isinstance(exc, MemoryError):
        return out_of_memory().at(line, col)
    # anything else is an engine bug; it is still reported as a Rhai error
    return EvalError(f"Internal error: {type(exc).__name__}: {exc}", line, col)


def scope_values(scope: dict) -> dict:
    """The host's scope variables as Rhai values (a copy: the script's changes stay in it);
    an invalid name or value is an EvalError."""
    values = {}
    for name, value in scope.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise EvalError(f"Invalid scope variable name: {name!r}", 1, 1)
        try:
            values[name] = from_python(value, f"scope variable '{name}'")
        except EvalError as exc:
            raise exc.at(1, 1) from None
    return values


def out_of_memory() -> LimitError:
    """Python could not allocate memory (the worker's memory limit, or the machine's)."""
    return LimitError("memory", "Out of memory: the script needs more memory than the worker "
                      "allows (max_memory_mb)", kind="ErrorDataTooLarge")


PYTHON_DEPTH_LIMITS = ("too many statically nested blocks", "too many nested parentheses",
                       "too many levels of indentation", "too complex")


def compile_failure(exc: SyntaxError) -> RhaiError:
    """Python refused the generated code. Only its nesting limits are the script's fault (too
    deep for Python although within ``max_expr_depth``); anything else is an engine bug, and
    is reported as such rather than blamed on the script."""
    if any(text in str(exc.msg) for text in PYTHON_DEPTH_LIMITS):
        return ParseError("Script too deeply nested to compile (max_expr_depth)", 1, 1,
                          kind="ExprTooDeep")
    return EvalError(f"Internal compiler error: generated code is invalid ({exc.msg}, "
                     f"generated line {exc.lineno})", 1, 1)


def static_hooks(chunk: int) -> dict[str, Any]:
    """The part of a run's namespace that is the same for every run of an engine: builtins,
    constants, classes and stateless operators (see compile_base.py for what the generated
    code calls). Nothing in it has state, so each run starts from a copy of one dict built
    per engine instead of building it again."""
    return {
        "__builtins__": SAFE_BUILTINS,
        # loop chunks
        "_partial": partial_chunk, "_CHUNK_RANGE": range(chunk), "_NO_RANGE": range(0),
        "_range": range,
        # values: integers, sizes, literals
        "_i64": i64, "_MAX": INT_MAX, "_SIZED": SIZED, "_CONTAINERS": ops.CONTAINERS,
        "_FnPtr": FnPtr, "_id": id, "_string_bytes": string_bytes,
        # operators
        "_sub": ops.sub, "_mul": ops.mul, "_div": ops.div, "_mod": ops.mod, "_pow": ops.power,
        "_shl": ops.shl, "_shr": ops.shr, "_bit_and": ops.bit_and, "_bit_or": ops.bit_or,
        "_bit_xor": ops.bit_xor, "_neg": ops.neg, "_plus": ops.plus, "_not": ops.not_,
        "_bool": ops.as_bool, "_make_range": ops.make_range, "_irange": irange,
        "_switch_range": switch_range, "_switch_value": switch_value,
        "_RhaiError": RhaiError,
        # errors a library function raises that are Rhai's own (see Runtime.invoke_plain)
        "_NATIVE_ERRORS": (EvalError, LimitError, RecursionError, MemoryError),
        "_ANY_ERROR": Exception,  # any other: a library bug (``Runtime.native_failed``)
        # variables outside the script
        "_const_fail": const_fail, "_UNSET": UNSET, "_eval_out": eval_out,
    }


def run_hooks(rt: Runtime) -> dict[str, Any]:
    """The hooks of a run's namespace bound to its own runtime ``rt`` (the rest is
    ``static_hooks``): what counts operations, checks limits or keeps per-run state."""
    return {
        # operation counting, call depth, loop chunks
        "_tick": rt.tick, "_chunk": rt.chunk, "_chunk_done": rt.chunk_done,
        "_ranges": rt.ranges, "_call_ranges": rt.call_ranges,
        "_number_chunks": rt.number_chunks,
        "_enter": rt.enter,
        # values: sizes, literals, copies, conversions
        "_check_long_string": rt.check_long_string, "_array_literal": rt.array_literal,
        "_map_literal": rt.map_literal, "_copy": rt.copy, "_interp": rt.interp,
        "_check_text": rt.check_text,
        "_closure": rt.closure,
        # operators
        "_add": rt.add, "_add_assign": rt.iadd, "_eq": rt.equals, "_ne": rt.not_equals,
        "_lt": rt.counted(ops.less), "_le": rt.counted(ops.less_eq),
        "_gt": rt.counted(ops.greater), "_ge": rt.counted(ops.greater_eq),
        "_in": rt.contains, "_iter": rt.iterate,
        "_iter_shared": rt.iterate_shared,
        # indexing, properties, calls
        "_index": rt.index, "_index_update": rt.index_update, "_set_index": rt.set_index,
        "_prop": rt.prop,
        "_set_prop": rt.set_prop, "_call": rt.call_name, "_call_ref": rt.call_ref,
        "_method": rt.method, "_push": rt.push_method, "_push_item": rt.push_item,
        "_known": rt.known, "_known_entry": rt.known.get, "_push_sized": rt.push_sized,
        "_sized_literal": rt.sized_literal,
        "_invoke_plain": rt.invoke_plain, "_native_failed": rt.native_failed,
        "_native_result": rt.native_result, "_charge": rt.charge,
        "_before_formatting": rt.check_before_formatting, "_check_string": rt.size.check_string,
        "_method_at": rt.method_at,
        "_call_fn_ptr": rt.call_fn_ptr,
        "_this": rt.this, "_is_def_var": rt.is_def_var, "_eval": rt.eval,
        "_throw": rt.throw, "_catch": rt.catch_value,
        # variables outside the script: the scope, eval's caller, global:: constants
        "_lookup_scope_var": rt.var_lookup, "_assign_scope_var": rt.var_assign,
        "_global_const": rt.global_const, "_GLOBALS": {},
    }


IDLE_RUNS = 2  # idle prepared runs kept per compiled script and engine
EMPTY = types.MappingProxyType({})  # an idle run's scope and constants: no run writes to them


class Engine:
    """A sandboxed Rhai interpreter; limits are keyword arguments (0 means unlimited), fixed
    for the engine's lifetime (``limits`` is read-only)."""

    def __init__(self, *, max_operations: int = DEFAULT_LIMITS["max_operations"],
                 max_call_levels: int = DEFAULT_LIMITS["max_call_levels"],
                 max_expr_depth: int = DEFAULT_LIMITS["max_expr_depth"],
                 max_string_size: int = DEFAULT_LIMITS["max_string_size"],
                 max_array_size: int = DEFAULT_LIMITS["max_array_size"],
                 max_map_size: int = DEFAULT_LIMITS["max_map_size"],
                 timeout: float = DEFAULT_LIMITS["timeout"],
                 max_script_size: int = DEFAULT_LIMITS["max_script_size"],
                 max_ast_size: int = DEFAULT_LIMITS["max_ast_size"],
                 max_functions: int = DEFAULT_LIMITS["max_functions"],
                 on_print: Callable[[str], Any] | None = None,
                 on_debug: Callable[[str], Any] | None = None,
                 module_dir: str | os.PathLike | None = None) -> None:
        limits = {
            "max_operations": max_operations, "max_call_levels": max_call_levels,
            "max_expr_depth": max_expr_depth, "max_string_size": max_string_size,
            "max_array_size": max_array_size, "max_map_size": max_map_size, "timeout": timeout,
            "max_script_size": max_script_size, "max_ast_size": max_ast_size,
            "max_functions": max_functions,
        }
        for name, value in limits.items():
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a non-negative number, not {value!r}")
        # read-only: what is derived from them below, and the prepared runs kept for reuse
        # (``CompiledScript.idle``), are computed once
        self.limits = types.MappingProxyType(limits)
        # the limits baked into compiled code: a script compiled under others is recompiled
        chunk = chunk_size(limits["max_operations"])
        self.settings = (limits["max_expr_depth"], chunk,
                         limits["max_string_size"], limits["max_array_size"],
                         limits["max_map_size"], limits["max_script_size"],
                         limits["max_ast_size"], limits["max_functions"])
        self.main_levels = call_levels(limits["max_call_levels"])
        # what every run's namespace starts with (a copy of it, see ``_namespace``)
        self.static_hooks = static_hooks(chunk)
        self.on_print = on_print or (lambda s: print(s, file=sys.stdout))
        self.on_debug = on_debug or (lambda s: print(s, file=sys.stderr))
        self.host_fns: dict[str, Callable[..., Any]] = {}
        self.shapes = ShapeCache()  # scripts of one shape compiled once (see shapes.py)
        # ``import`` loads ``.rhai`` files from this folder only; None: no module is found
        self.modules = ModuleResolver(module_dir) if module_dir is not None else None

    def register_fn(self, name: str, fn: Callable[..., Any]) -> None:
        """Make the Python callable ``fn`` available to scripts as ``name(...)``."""
        if not isinstance(name, str) or not name.isidentifier() or not name.isascii() or \
                name.startswith("_"):
            raise ValueError(f"Invalid function name: {name!r}")
        if not callable(fn):
            raise ValueError(f"Host function {name!r} is not callable: {fn!r}")
        self.host_fns[name] = fn

    # ---- compiling ----------------------------------------------------------------------------
    def compile(self, source: str, outer_fns: frozenset = frozenset(),
                eval_vars: tuple[tuple[str, bool, bool], ...] | None = None,
                deadline: float | None = None) -> CompiledScript:
        """Parse and compile ``source``; raises ParseError with the position of the problem,
        or LimitError when it is over ``max_script_size``/``max_ast_size``/``max_functions``
        or runs past ``deadline`` (a ``time.monotonic()`` value, 0 = none; by default the
        timeout from now). Pass the same ``deadline`` to ``eval`` to count compiling and
        running against one timeout. ``eval_vars`` (for ``eval``) names the caller's
        variables the script runs among."""
        if not isinstance(source, str):
            raise ParseError(f"Script must be a string, not {type(source).__name__}", 1, 1)
        if deadline is None:
            deadline = self.deadline_from_now()
        budget = CompileBudget(self.limits["max_script_size"], self.limits["max_ast_size"],
                               self.limits["max_functions"], deadline, self.limits["timeout"])
        try:
            budget.check_source(source)
            if outer_fns or eval_vars is not None:  # an ``eval``: compiled in its caller's place
                tokens = tokenize(source, self.limits["max_expr_depth"], budget)
                parts = self._generate(tokens, budget, outer_fns, eval_vars)
            else:
                shaped = self.shapes.by_text(source) if len(source) <= MAX_SOURCE_CHARS \
                    else None
                if shaped is not None:  # of a compiled shape, which its text tells
                    return self._instantiate(shaped[0].compiled, shaped[1], source)
                tokens = tokenize(source, self.limits["max_expr_depth"], budget)
                parts = self._generate_by_shape(tokens, source, budget)
                if type(parts) is CompiledScript:
                    return parts
        except RhaiError:
            raise
        except MemoryError:
            raise out_of_memory() from None
        except RecursionError:
            raise ParseError("Expression exceeds maximum complexity (max_expr_depth)", 1, 1,
                             kind="ExprTooDeep") from None
        except Exception as exc:  # CompilerBug or worse: an engine bug, still a Rhai error
            raise EvalError(f"Internal compiler error: {type(exc).__name__}: {exc}", 1,
                            1) from None
        return self._finish(parts, source, budget)

    def _generate(self, tokens: list, budget: CompileBudget, outer_fns: frozenset = frozenset(),
                  eval_vars: tuple[tuple[str, bool, bool], ...] | None = None) -> Generated:
        """Parse ``tokens`` and generate their Python (see ``compile``)."""
        script = parse_tokens(tokens, self.limits["max_expr_depth"], budget)
        budget.check_deadline()
        py_source, table, fn_py, consts, uses_modules = compile_script(
            script, outer_fns,
            chunk_size(self.limits["max_operations"]), self.limits["max_string_size"],
            self.limits["max_array_size"], self.limits["max_map_size"], eval_vars)
        budget.check_deadline()
        private = frozenset(key for key, fn in script.fns.items() if fn.private)
        return Generated(py_source, table, fn_py, consts, uses_modules, private)

    def _generate_by_shape(self, tokens: list, source: str, budget: CompileBudget
                           ) -> "Generated | CompiledScript":
        """The generated Python of ``tokens``, or the script compiled already when its shape
        was (see shapes.py): the first script of a shape is compiled with its values, the
        next one with other values compiles the shape with holes for them, and every later
        one only fills the holes."""
        if len(source) > MAX_SOURCE_CHARS:
            return self._generate(tokens, budget)
        hole_tokens: list = []
        key, values = shape_of(tokens, hole_tokens)
        if not values:  # no literal to vary: the text is the shape
            return self._generate(tokens, budget)
        entry = self.shapes.get(key)
        if type(entry) is Shaped:
            self._index_text(source, key, hole_tokens)
            return self._instantiate(entry.compiled, values, source)
        values_hash = hash(tuple(values))
        if type(entry) is Seen and entry.values_hash != values_hash:
            trial = budget.fork()
            try:
                template = self._finish(self._generate(holed(tokens), trial), "", trial)
            except Exception:  # NeedsValue: the compile used a literal's value
                self.shapes.put(key, REFUSED)
            else:
                self.shapes.put(key, Shaped(template))
                self._index_text(source, key, hole_tokens)
                return self._instantiate(template, values, source)
        elif entry is None:
            self.shapes.put(key, Seen(values_hash))
        return self._generate(tokens, budget)

    def _index_text(self, source: str, key: tuple, hole_tokens: list) -> None:
        """Let the next scripts of ``source``'s compiled shape be found by their text, without
        lexing, when its literals allow it (see ``TextTemplate``)."""
        template = text_template(source, key, hole_tokens)
        if template is not None:
            self.shapes.put_text(source, template)

    def _instantiate(self, template: CompiledScript, values: list, source: str
                     ) -> CompiledScript:
        """The script ``source`` of ``template``'s shape: the template's code with the
        script's literal ``values`` in the holes of the constants."""
        return CompiledScript(template.code, template.table, template.fn_py,
                              filled(template.consts, values), template.filename,
                              template.python_source, source, self.settings,
                              template.uses_modules, template.private_fns, template)

    def _finish(self, parts: Generated, source: str, budget: CompileBudget) -> CompiledScript:
        """The ``CompiledScript`` of generated Python ``parts`` (CPython's ``compile()``)."""
        py_source, table, fn_py, consts, uses_modules, private = parts
        filename = f"<rhai-{next(_ids)}>"
        try:
            code = compile_text(py_source, filename)
        except SyntaxError as exc:
            raise compile_failure(exc) from None
        except RecursionError:
            raise ParseError("Script too complex to compile (max_expr_depth)", 1, 1,
                             kind="ExprTooDeep") from None
        except MemoryError:
            raise out_of_memory() from None
        budget.check_deadline()
        compiled = CompiledScript(code, table, fn_py, consts, filename, py_source, source,
                                  self.settings, uses_modules, private)
        _scripts[filename] = compiled
        return compiled

    # ---- running ------------------------------------------------------------------------------
    def deadline_from_now(self) -> float:
        """The ``time.monotonic()`` by which a run starting now must end (0.0: no timeout)."""
        timeout = self.limits["timeout"]
        return time.monotonic() + timeout if timeout else 0.0

    def eval(self, script: str | CompiledScript, scope: dict | None = None,
             deadline: float | None = None, raw: bool = False) -> Any:
        """Run a script (source or compiled) and return its last value as a Python value
        (``raw``: as the engine holds it, e.g. a ``Char`` or ``FnPtr``, for tests and tools).

        Compiling a source string counts against the run's timeout; ``deadline`` (see
        ``compile``) defaults to the timeout from now. ``scope`` must be a dict (else
        ValueError); a value in it that is not plain data (or contains itself) is an
        EvalError."""
        # a deadline just taken from now needs no check before the run; one that was given,
        # or that compiling here used up some of, does
        check_deadline = deadline is not None
        if deadline is None:
            deadline = self.deadline_from_now()
        if scope is not None and not isinstance(scope, dict):
            raise ValueError(f"scope must be a dict of variables, not {type(scope).__name__}")
        if isinstance(script, CompiledScript):
            compiled = script
        else:
            compiled, check_deadline = self.compile(script, deadline=deadline), True
        if compiled.settings is not self.settings and compiled.settings != self.settings:
            compiled = self.compile(compiled.source, deadline=deadline)  # other limits
            check_deadline = True
        values = scope_values(scope) if scope else {}
        try:
            ns, rt = self._take_run(compiled) or self._namespace(compiled, values, None)
        except Exception as exc:
            raise as_rhai_error(exc) from None
        try:
            self._start(ns, rt, values, deadline, check_deadline)
            result = ns["_main"](self.main_levels, None)
        except ScriptExit as stop:
            result = stop.value
        except Exception as exc:
            raise as_rhai_error(exc) from None
        finally:
            self._give_back(compiled, ns, rt)
        return result if raw else to_python(result)

    def _take_run(self, compiled: CompiledScript) -> tuple[dict, Runtime] | None:
        """An idle prepared run of ``compiled``, taken out so no other run can have it; None
        when there is none (a re-entrant or concurrent run then has a new one built)."""
        try:
            run = compiled.idle[self].pop()  # atomic, as ``append``: threads need no lock
        except (KeyError, IndexError):  # none kept yet, or another thread took the last one
            return None
        if compiled.shape is not None:  # the run may have been another script's of the shape
            run[0].update(compiled.consts)
        return run

    def _give_back(self, compiled: CompiledScript, ns: dict, rt: Runtime) -> None:
        """Keep the run that just ended, reset, for a next run of ``compiled`` (at most
        IDLE_RUNS), unless code that may outlive the run holds it (a closure it made, see
        ``Runtime.handed_out``) or it uses modules (the module views and namespaces it built
        keep references to it)."""
        if rt.handed_out or compiled.uses_modules:
            return
        rt.reset(0.0)
        ns["_SCOPE"] = ns["_GLOBALS"] = EMPTY  # ``_start`` gives the next run its own
        runs = compiled.idle.get(self)
        if runs is None:
            runs = compiled.idle.setdefault(self, collections.deque(maxlen=IDLE_RUNS))
        runs.append((ns, rt))  # when IDLE_RUNS are kept already, the oldest goes

    def _start(self, ns: dict, rt: Runtime, values: dict, deadline: float,
               check_deadline: bool) -> None:
        """Give a prepared run (new, or reset by ``_give_back``) this run's inputs:
        the scope's variables, fresh ``global::`` constants, the deadline (checked first when
        ``check_deadline``: compiling may have used it up), and the engine's output callbacks
        as they are now."""
        ns["_SCOPE"] = values
        ns["_GLOBALS"] = {}
        rt.on_print, rt.on_debug = self.on_print, self.on_debug
        if values:
            rt.values_within_limits = all(rt.size.within(v) for v in values.values())
        rt.deadline = deadline
        if check_deadline:
            rt.check_deadline()

    run = eval

    def _namespace(self, compiled: CompiledScript, scope: dict, parent: Runtime | None,
                   importer: Runtime | None = None) -> tuple[dict, Runtime]:
        """A fresh namespace and runtime for one run of ``compiled``: the script itself, an
        ``eval`` in ``parent``, or a module imported by ``importer``."""
        ns = self.static_hooks.copy()
        args = (self.limits, self.on_print, self.on_debug, self.host_fns, ns, {},
                self._eval_hook)
        rt = Runtime(*args) if importer is None else ModuleRuntime(importer, *args)
        rt.locate, rt.in_function_call = locate, in_function_call
        if parent is not None:
            rt.deadline = parent.deadline
            rt.values_within_limits = parent.values_within_limits
            rt.fns.update(parent.fns)
        ns.update(compiled.consts)
        ns.update(run_hooks(rt))
        ns["_SCOPE"] = scope
        countdown = rt.granted
        if parent is not None:
            countdown = parent.take_ops(0)
            rt.total, rt.granted = parent.total, parent.granted
        if compiled.uses_modules:
            if parent is not None:
                parent.modules = parent.modules or self._run_modules()
                rt.modules = parent.modules.for_eval()
            elif importer is None:
                rt.modules = self._run_modules()
            ns.update(bindings(rt))
            ns["_EXPORTED"] = []
        exec(compiled.code, ns)
        if "_factory" in ns:
            functions = ns["_factory"](countdown)
            ns.update(functions)
        else:  # the script's body alone (see ``Compiler.flat``): the countdown is a global
            ns["_ops"] = countdown
            functions = {"_main": ns["_main"]}
        rt.take_ops, rt.set_ops = countdown_access(ns, functions["_main"])
        for key, pyname in compiled.fn_py.items():
            rt.fns[key] = functions[pyname]
        rt.method_names = method_names(name for name, _ in rt.fns)
        return ns, rt

    def _eval_hook(self, rt: Runtime, d: int, source: str, visible: dict, new: dict,
                   top_level: bool, names: tuple[tuple[str, bool, bool], ...]) -> Any:
        """``eval(source)`` inside a script: same limits and deadline, runs in the caller's
        scope (its variables, given in ``visible``, come back changed; those it declares go to
        ``new``); at the script's top level its constants become ``global::`` constants."""
        try:
            compiled = self.compile(source, frozenset(rt.fns), names, rt.deadline)
            if compiled.fn_py:  # Rhai parses the text as a statement block
                raise ParseError("Function definitions must be at global level and cannot "
                                 "be inside a block or another function", 1, 1,
                                 kind="WrongFnDefinition")
        except ParseError as exc:  # Rhai: ErrorInFunctionCall("eval", ErrorParsing)
            raise in_native_call("eval", exc) from None
        ns, child = self._namespace(compiled, rt.ns["_SCOPE"], rt)
        ns["_EVALVARS"], ns["_EVALNEW"] = visible, new
        ns["_GLOBALS"] = rt.ns["_GLOBALS"] if top_level else dict(rt.ns["_GLOBALS"])
        try:
            return ns["_main"](d - 1, None)
        except LimitError:
            raise
        except RhaiError as exc:  # every other error leaves eval wrapped, as in Rhai
            exc.at(*locate(exc))
            raise in_native_call("eval", in_function_call(exc)) from None
        finally:
            rt.set_ops(child.take_ops(0))
            rt.total, rt.granted = child.total, child.granted
            # the caller's functions are the eval's too: its closures may call them
            rt.handed_out = rt.handed_out or child.handed_out

    # ---- modules ------------------------------------------------------------------------------
    def _run_modules(self) -> ModuleView:
        """The module state of a new run (of the script itself)."""
        return ModuleView(RunModules(self.modules, self._load_module))

    def _load_module(self, importer: Runtime, d: int, file: str, path: str) -> Module:
        """Compile (once per engine and file version) and run the module script ``file``
        (imported as ``path``) within the importing run's limits and deadline: its exported
        variables, non-private functions and top-level imports make the module. An error in
        it is Rhai's ErrorInModule; a limit stays the LimitError it is."""
        assert self.modules is not None
        try:
            compiled = self.modules.script(
                file, path, self.limits["max_script_size"],
                lambda text: self.compile(text, deadline=importer.deadline))
        except LimitError:
            raise
        except RhaiError as exc:
            raise in_module(exc, path) from None
        ns, rt = self._namespace(compiled, {}, None, importer)
        view = importer.modules.for_module(path)
        rt.modules = view
        try:
            ns["_main"](d - 1, None)
        except ScriptExit:  # as in Rhai, ``exit`` in a module ends the module's script only
            pass
        except LimitError as exc:  # reported at the import, like an error in the module
            raise exc.with_traceback(None)
        except RhaiError as exc:
            exc.at(*locate(exc))
            raise in_module(in_function_call(exc), path) from None
        functions = {key: fn for key, fn in rt.fns.items()
                     if key not in compiled.private_fns and "." not in key[0]}
        return Module(exported_variables(ns.get("_EXPORTED", [])), functions, view.imports)
