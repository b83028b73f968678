"""Statement code generation (a mixin of ``Compiler``): blocks, control flow, loops with
operation counting, try/catch, switch and assignments through index/property chains."""
from __future__ import annotations

from typing import Any

from .compile_base import (ARITH, BOOL_KINDS, COMPOUND_SLOW, CONTROL, DEEP_BLOCKS, FLIP,
                           FLOAT_OPS, INT_LIT, INT_OPS, LONG_STRING, RETURN, SIMPLE, TEMP, Var,
                           assigns, calls_or_throws, in_i64, variable_names)
from .compile_expr import THIS, never_int
from .errors import ParseError
from .shapes import is_hole, value_type
from .nodes import (Assign, Block, Break, Continue, Export, ExprStmt, For, If, Import, Let, Loop,
                    Node, Return, Switch, Throw, Try, While)


class StatementCompiler:
    """Code generation for statements; state and output helpers come from ``Compiler``."""

    def block_value(self, stmts: list[Node]) -> tuple[str, bool]:
        """Compile statements; return the code of the last one's value (to be used at once)
        and whether it is statically an INT."""
        if not stmts:
            return "None", False
        for s in stmts[:-1]:
            self.stmt(s)
        last = stmts[-1]
        if last.kind == "expr":
            self.at(last)
            code = self.value_of(last.e)
            if self.needs_copy(last.e):  # the block's value must not alias a variable
                code = self.copy_of(code)
            if last.e.kind in CONTROL:
                return code, self.tmp_int.get(code, False)
            return code, self.is_int(last.e)
        self.stmt(last)
        return "None", False

    def value_of(self, e: Node) -> str:
        """An expression's value as a name or literal, safe to read after later statements."""
        code = self.ex(e)
        if SIMPLE.match(code) or code in ("None", "True", "False"):
            return code
        t = self.tmp()
        self.emit(f"{t} = {self.bare(code)}")
        return t

    def body(self, block: Node) -> None:
        """A block whose value is not needed (always at least one Python statement, since
        statements with no effect, like ``1;``, generate no code)."""
        with self.block_scope():
            mark = len(self.lines)
            for s in block.stmts:
                self.stmt(s)
            if len(self.lines) == mark:
                self.emit("pass")

    def stmt(self, s: Node) -> None:
        """Compile a statement by the method for its node class (``stmt_<Class>``, see
        ``Compiler.STMT_VISITORS``)."""
        self.at(s)
        self.frame.function.nest = 0
        visit = self.STMT_VISITORS.get(type(s))
        if visit is None:
            raise ParseError(f"Unexpected statement {s.kind}", s.line, s.col)
        visit(self, s)

    def stmt_ExprStmt(self, s: ExprStmt) -> None:
        e = s.e
        if e.kind in CONTROL:
            self.control(e, None)
            return
        mark = len(self.lines)
        code = self.ex(e)
        if not (SIMPLE.match(code) or code in ("None", "True", "False")):
            self.emit(self.bare(code))
        elif TEMP.match(code):
            self.drop_unused(code, mark)

    def drop_unused(self, temp: str, mark: int) -> None:
        """A statement's value is not used: the line from ``mark`` on that stores it in
        ``temp`` just computes it, if no other text there contains ``temp`` (a longer name
        that does only makes this keep the store)."""
        lines = self.lines[mark:]
        if sum(line[1].count(temp) for line in lines) != 1:
            return
        for line in lines[-2:]:
            if line[1].startswith(f"{temp} = "):
                line[1] = line[1][len(temp) + 3:]

    def stmt_Let(self, s: Let) -> None:
        code = self.copied(s.e) if s.e is not None else "None"
        is_int = s.e is not None and self.is_int(s.e)
        is_list = s.e is not None and self.is_list(s.e)
        is_str = s.e is not None and self.is_str(s.e)
        is_map = s.e is not None and self.is_map(s.e)
        is_float = s.e is not None and self.is_float(s.e)
        py = self.declare(s.name, s.const, ("let", id(s)), is_int, is_list, is_str, is_map,
                          is_float)
        self.emit(f"{py} = {self.bare(code)}")
        if s.const and self.at_script_top():
            self.emit(f"_GLOBALS[{self.const(s.name)}] = {py}")
        if s.exported:
            self.export(s.name, self.frame.symbols[s.name])

    def stmt_Assign(self, s: Assign) -> None:
        self.assign(s)

    def stmt_Import(self, s: Import) -> None:
        self.import_module(s)

    def stmt_Export(self, s: Export) -> None:
        var = self.lookup(s.name)
        if var is None:  # Rhai: the variable must exist
            self.emit(self.scope_var(s.name))
        else:
            self.export(s.alias, var)

    def import_module(self, s: Node) -> None:
        """``import path as m``: the module goes to a local that ``m::`` in this block (and
        closures in it) reads; at the script's top level it is also visible to functions."""
        self.uses_modules = True
        path = self.value_of(s.path)
        self.at(s)
        top = self.at_script_top()
        alias = self.const(s.alias) if s.alias else "None"
        call = f"_import(_d, {path}, {alias}, {top})"
        if s.alias:
            py = self.tmp("M_")
            self.frame.modules[s.alias] = py
            call = f"{py} = {call}"
        self.emit(call)

    def export(self, alias: str, var: Var) -> None:
        """Record that ``var`` is exported as ``alias``; when the script is a module, its
        value at the end becomes the module's variable. The declaration order (the number in
        its Python name) decides between variables exported under one alias."""
        self.uses_modules = True
        order = int(var.py.rpartition("_")[2])
        self.emit(f"_EXPORTED.append(({order}, {self.const(alias)}, lambda: {var.py}))")

    def needs_copy(self, e: Node) -> bool:
        """Whether ``e`` may yield an array/map/blob that a variable still holds."""
        if e.kind in ("var", "index", "prop", "this"):
            return not self.is_int(e)
        return e.kind == "binary" and e.op == "??"

    def copied(self, e: Node) -> str:
        """An expression stored or handed on as a value: an array/map/blob value is copied
        (value semantics; one statically an array with no test of its type), a number literal
        is passed on (``passed_on``)."""
        code = self.ex(e)
        if self.needs_copy(e):
            return f"_copy({code})" if self.is_list(e) else self.copy_of(code)
        return self.passed_on(e, code)

    def control(self, e: Node, target: str | None) -> None:
        """Compile a control-flow expression by the method for its node class
        (``control_<Class>``, see ``Compiler.CONTROL_VISITORS``); its value (if wanted) goes to
        ``target``."""
        k = e.kind
        self.at(e)
        if target and (k not in ("if", "block") or (k == "if" and e.els is None)):
            self.tmp_int[target] = False
        self.CONTROL_VISITORS[type(e)](self, e, target)
        if target and k in ("break", "continue", "return", "throw"):
            self.tmp_int.pop(target, None)
            self.emit(f"{target} = None")

    def control_If(self, e: If, target: str | None) -> None:
        cond = self.cond(e.cond)
        then_facts, else_facts = self.guard_facts(e.cond)
        self.emit(f"if {self.bare(cond)}:")
        self.indent += 1
        self.branch(e.then, target, self.assume(then_facts, e.then))
        self.indent -= 1
        if e.els is not None or target:
            self.emit("else:")
            self.indent += 1
            facts = self.assume(else_facts, e.els)
            if e.els is None and target == RETURN:
                self.returned(None)
                self.emit("return None")
            elif e.els is None:
                self.emit(f"{target} = None")
            elif e.els.kind == "if":  # ``else if``: the facts hold while compiling it
                saved, self.frame.facts = self.frame.facts, facts
                self.control(e.els, target)
                self.frame.facts = saved
            else:
                self.branch(e.els, target, facts)
            self.indent -= 1

    def control_Block(self, e: Block, target: str | None) -> None:
        self.branch(e, target)

    def control_Switch(self, e: Switch, target: str | None) -> None:
        self.switch(e, target)

    def control_While(self, e: While, target: str | None) -> None:
        self.loop_start(target)
        self.while_loop(e)
        self.frame.function.loops.pop()

    def control_Loop(self, e: Loop, target: str | None) -> None:
        self.loop_start(target)
        chunk, running = self.chunk_open()
        self.body(e.body)
        self.chunk_close(chunk, running)
        self.frame.function.loops.pop()

    def control_For(self, e: For, target: str | None) -> None:
        self.loop_start(target)
        if self.is_range_loop(e) and self.frame.function.blocks < DEEP_BLOCKS:
            self.range_loop(e)
        else:
            counter = self.tmp("_c")
            self.emit(f"{counter} = {self.chunk}")
            running = self.open_loop(f"{self.chunk} - {counter}")
            self.frame.function.counters.append(counter)
            self.frame.function.blocks += 1
            self.for_loop(e)
            self.frame.function.blocks -= 1
            self.frame.function.counters.pop()
            self.emit(f"if (_ops := _ops - ({self.chunk} - {counter})) <= 0: _tick()")
            self.close_loop(running)
        self.frame.function.loops.pop()

    def open_loop(self, uncounted: str, flag: str = "") -> str:
        """Mark a loop as running. A loop counts its iterations in chunks, so one left other
        than at its end (by ``return``, or by an error, caught or not) still has iterations
        to count, which ``uncounted`` (Python) gives: the ``catch`` around it or the
        function's handler (see ``count_loops_left``) counts them. Otherwise a script
        repeating such an exit (a throw caught in a ``loop``, an early ``return`` in a called
        function) would run iterations that no operation limit ever sees. A loop over ranges
        passes its range's local as ``flag``: it is true from the line before this one (an
        empty range is false, and has nothing to count) until ``close_loop``."""
        if not flag:
            flag = self.tmp("_a")
            self.emit(f"{flag} = True")
        self.frame.function.open_loops.append((flag, uncounted))
        return flag

    def close_loop(self, flag: str) -> None:
        """The loop marked by ``flag`` ended and counted all its iterations."""
        self.emit(f"{flag} = False")

    def count_loops_left(self, loops: list[tuple[str, str]], reset: bool = True) -> None:
        """Count the iterations of those of ``loops`` still marked running (left early),
        marking them ended (``reset``) unless the function is being left (a ``catch`` may
        run them again, or a handler further out count them too)."""
        for flag, uncounted in loops:
            ended = f"; {flag} = False" if reset else ""  # after ``uncounted``, which may read it
            self.emit(f"if {flag}: _ops -= {uncounted}{ended}")
        self.emit("if _ops <= 0: _tick()")

    def loop_start(self, target: str | None) -> None:
        """A loop's value is () unless a ``break value`` sets it."""
        if target:
            self.emit(f"{target} = None")
        self.frame.function.loops.append(target)

    def control_Try(self, e: Try, target: str | None) -> None:
        self.try_catch(e, target)

    def control_Break(self, e: Break, target: str | None) -> None:
        loop_target = self.frame.function.loops[-1] if self.frame.function.loops else None
        if e.e is not None:
            code = self.copied(e.e)
            if loop_target:
                self.emit(f"{loop_target} = {code}")
            elif not SIMPLE.match(code):
                self.emit(code)
        self.emit("break")

    def control_Continue(self, e: Continue, target: str | None) -> None:
        self.emit("continue")

    def control_Return(self, e: Return, target: str | None) -> None:
        if self.frame.function.loops:
            self.frame.function.returns_in_loop = True
        code = self.copied(e.e) if e.e is not None else "None"
        self.returned(e.e)
        self.emit(f"return {self.bare(code)}")

    def control_Throw(self, e: Throw, target: str | None) -> None:
        if e.e is None and self.frame.function.catches:
            self.emit(f"raise {self.frame.function.catches[-1]}")
        else:
            code = self.ex(e.e) if e.e is not None else "None"
            self.emit(f"_throw({code})")

    def returned(self, e: Node | None) -> None:
        """The function returns the value of ``e`` (None: ``()``) on some path: its result is
        statically an INT or an array only if every returned value is."""
        function = self.frame.function
        function.ret_int = function.ret_int and e is not None and self.is_int(e)
        function.ret_list = function.ret_list and e is not None and self.is_list(e)

    def guard_facts(self, cond: Node) -> tuple[dict, dict]:
        """Bounds that an ``if`` condition like ``n < 2`` puts on an INT variable in the then
        and else branches: {declaration key: (name, (low, high))}, None for unbounded."""
        if cond.kind != "binary" or cond.op not in FLIP:
            return {}, {}
        left, right, op = cond.l, cond.r, cond.op
        if left.kind == "lit" and right.kind == "var":
            left, right, op = right, left, FLIP[op]
        if left.kind != "var" or right.kind != "lit" or value_type(right.value) is not int or \
                is_hole(right.value):  # a hole: no bound is known
            return {}, {}
        var = self.lookup(left.name)
        if not self.var_is_int(var) or var.key in self.shared:
            return {}, {}
        self.relied_bounds.add(var.key)  # a closure that assigns it must undo these
        k = right.value
        then_b, else_b = {"<": ((None, k - 1), (k, None)), "<=": ((None, k), (k + 1, None)),
                          ">": ((k + 1, None), (None, k)), ">=": ((k, None), (None, k - 1)),
                          "==": ((k, k), (None, None))}[op]
        return {var.key: (var.name, then_b)}, {var.key: (var.name, else_b)}

    def assume(self, facts: dict, branch: Node | None) -> dict:
        """The current frame's facts plus the bounds that hold throughout ``branch`` (its
        variable is not assigned there)."""
        saved = self.frame.facts
        usable = {key: bounds for key, (name, bounds) in facts.items()
                  if branch is not None and not assigns(branch, name)}
        if usable:
            merged = dict(saved)
            for key, (low, high) in usable.items():
                old_low, old_high = merged.get(key, (None, None))
                if old_low is not None:
                    low = old_low if low is None else max(low, old_low)
                if old_high is not None:
                    high = old_high if high is None else min(high, old_high)
                merged[key] = (low, high)
            return merged
        return saved

    def branch(self, block: Node, target: str | None, facts: dict | None = None) -> None:
        """A block in its own frame (where ``facts`` hold, if given); its value goes to
        ``target``."""
        with self.scope(self.frame.soft(facts)):
            self.branch_body(block, target)

    def branch_body(self, block: Node, target: str | None) -> None:
        function = self.frame.function
        last = block.stmts[-1] if block.stmts else None
        if target == RETURN and last is not None and last.kind == "expr" and \
                last.e.kind not in CONTROL:
            for st in block.stmts[:-1]:
                self.stmt(st)
            self.at(last)
            self.emit(f"return {self.bare(self.copied(last.e))}")
            self.returned(last.e)
        elif target == RETURN:
            value, is_int = self.block_value(block.stmts)
            function.ret_int = function.ret_int and is_int
            function.ret_list = False  # a control flow's value or no value: not known
            self.emit(f"return {value}")
        elif target:
            value, is_int = self.block_value(block.stmts)
            self.tmp_int[target] = self.tmp_int.get(target, True) and is_int
            self.emit(f"{target} = {value}")
        else:
            mark = len(self.lines)
            for s in block.stmts:
                self.stmt(s)
            if len(self.lines) == mark:  # e.g. ``if c { 1 }`` as a statement
                self.emit("pass")

    def tick(self) -> None:
        """Count one operation per loop iteration in a local counter, flushed every chunk."""
        c = self.frame.function.counters[-1]
        self.emit(f"{c} -= 1")
        self.emit(f"if not {c}: {c} = _chunk()")

    def cond(self, e: Node) -> str:
        self.at(e)  # a non-bool condition is reported where the condition is, as in Rhai
        code = self.ex(e)
        if self.is_bool(e, code):
            return code
        if INT_LIT.match(code) or e.kind == "lit" or not self.hot():
            return f"_bool({code})"
        first, later = self.operand(code)
        return self.group(f"{first} is True or ({later} is not False and _bool({later}))")

    def is_bool(self, e: Node, code: str) -> bool:
        return (e.kind == "binary" and e.op in BOOL_KINDS) or \
            (e.kind == "unary" and e.op == "!") or code in ("True", "False")

    def chunk_open(self) -> str:
        """Open a ``while``/``loop``: an inner ``for`` over ``range(chunk)`` counts the
        iterations far more cheaply than a counter; each full chunk is accounted by ``_chunk``.
        A Rhai ``break`` leaves the inner loop and then the outer one; ``continue`` just
        moves on to the next counted iteration. Python allows only 20 nested loop/try blocks
        per function, so loops nested deeply use one block and a counter instead."""
        if self.frame.function.blocks >= DEEP_BLOCKS:
            c = self.tmp("_c")
            self.emit(f"{c} = {self.chunk}")
            running = self.open_loop(f"{self.chunk} - {c}")
            self.emit("while True:")
            self.indent += 1
            self.frame.function.blocks += 1
            self.frame.function.counters.append(c)
            self.tick()
            return c, running
        k = self.tmp("_w")
        self.emit(f"{k} = 0")
        running = self.open_loop(f"{k} + 1")  # the iteration under way counts too
        self.emit("while True:")
        self.indent += 1
        self.emit(f"for {k} in _CHUNK_RANGE:")
        self.indent += 1
        self.frame.function.blocks += 2
        return k, running

    def chunk_close(self, k: str, running: str) -> None:
        if k.startswith("_c"):
            self.frame.function.counters.pop()
            self.frame.function.blocks -= 1
            self.indent -= 1
            self.emit(f"if (_ops := _ops - ({self.chunk} - {k})) <= 0: _tick()")
            self.close_loop(running)
            return
        self.frame.function.blocks -= 2
        self.indent -= 1
        self.emit("else:")
        self.indent += 1
        self.emit("_chunk()")
        self.emit("continue")
        self.indent -= 1
        self.emit("break")
        self.indent -= 1
        self.emit(f"if (_ops := _ops - {k}) <= 0: _tick()")
        self.close_loop(running)

    def while_loop(self, e: Node) -> None:
        first = None
        if e.post:
            first = self.tmp("_first")
            self.emit(f"{first} = True")
        k, running = self.chunk_open()
        if first:
            self.emit(f"if not {first}:")
            self.indent += 1
        cond = self.cond(e.cond)
        self.emit(f"if {'' if e.until else 'not '}{cond}: break")
        if first:
            self.indent -= 1
            self.emit(f"{first} = False")
        self.body(e.body)
        self.chunk_close(k, running)

    def is_range_loop(self, e: Node) -> bool:
        """``for x in a..b``, or ``for x in range(...)`` when no function of this script
        takes the name (``range`` then runs as ``_call`` runs it: see ``range_loop``)."""
        it = e.iterable
        if e.idx:
            return False
        if it.kind == "call":
            return it.name == "range" and not it.bang and len(it.args) in (2, 3) \
                and ("range", len(it.args)) not in self.fn_py
        return it.kind == "binary" and it.op in ("..", "..=") and it.r is not None

    def range_loop(self, e: Node) -> None:
        """``for x in a..b`` and ``for x in range(...)``: the numbers come in chunks, counted
        by ``_ranges``/``_call_ranges`` as each chunk completes (or, after a ``break``, here
        by how far the chunk got), so iterations themselves cost nothing. ``range(...)`` is
        called by name at run time as any call is (``Runtime.call_name``); the loop variable
        is typed INT when that is the engine's ``range`` of INTs (``int_range_call``)."""
        it = e.iterable
        numbers = self.short_literal_range(it)
        if numbers is not None:
            self.short_range_loop(e, numbers)
            return
        if it.kind == "call":  # a line of its own: its errors get the call's position
            args = ''.join(', ' + a for a in self.args(it.args))
            saved, self.pos = self.pos, (it.line, it.col)
            chunks = self.tmp()
            self.emit(f"{chunks} = _call_ranges(_d{args})")
            self.pos = saved
        else:
            a, b = self.ex_seq([it.l, it.r])
            if self.is_int(it.l) and self.is_int(it.r):  # no type test: a range of numbers
                end = b if it.op == ".." else f"({b}) + 1"
                chunks = f"_number_chunks(_range({a}, {end}))"
            else:
                chunks = f"_ranges({a}, {b}, {it.op == '..='})"
        chunk = self.tmp("_g")
        with self.block_scope() as frame:
            numbers = it.kind != "call" or self.int_range_call(it)
            var = self.declare(e.var, key=("for", id(e)), is_int=numbers)
            self.emit(f"{chunk}, {var} = _NO_RANGE, None")  # nothing to count before it starts
            running = self.open_loop(f"_partial({chunk}, {var})", chunk)
            self.emit(f"for {chunk} in {chunks}:")
            self.indent += 1
            self.emit(f"for {var} in {chunk}:")
            self.indent += 1
            frame.function.blocks += 2
            self.body(e.body)
            frame.function.blocks -= 2
            self.indent -= 1
            if e.breaks:
                self.emit("else:")
                self.emit("    continue")
                self.emit(f"_chunk_done(_partial({chunk}, {var}))")
                self.emit("break")
            self.indent -= 1
            self.close_loop(running)

    def short_literal_range(self, it: Node) -> range | None:
        """The numbers of ``a..b``/``a..=b`` of INT literals, when they are one chunk at most
        (None otherwise, and for a literal that is a hole: its value is unknown)."""
        if it.kind != "binary" or it.l.kind != "lit" or it.r.kind != "lit" or \
                is_hole(it.l.value) or is_hole(it.r.value) or \
                value_type(it.l.value) is not int or value_type(it.r.value) is not int:
            return None
        numbers = range(it.l.value, it.r.value + (it.op == "..="))
        return numbers if len(numbers) <= self.chunk else None

    def short_range_loop(self, e: Node, numbers: range) -> None:
        """``for x in a..b`` of INT literals and at most a chunk of ``numbers``: one Python
        loop over them, counted all at once when it ends (``else``), or, when a ``break`` left
        it (its flag still set), by how far it got."""
        chunk = self.tmp("_g")
        with self.block_scope() as frame:
            var = self.declare(e.var, key=("for", id(e)), is_int=True)
            self.emit(f"{chunk}, {var} = _range({numbers.start}, {numbers.stop}), None")
            running = self.open_loop(f"_partial({chunk}, {var})", chunk)
            self.emit(f"for {var} in {chunk}:")
            self.indent += 1
            frame.function.blocks += 1
            self.body(e.body)
            frame.function.blocks -= 1
            self.indent -= 1
            ran = "    " if e.breaks else ""  # without a ``break``, the ``else`` always runs
            if e.breaks:
                self.emit("else:")
            self.emit(f"{ran}{running} = False")
            self.emit(f"{ran}if (_ops := _ops - {len(numbers)}) <= 0: _tick()")
            if e.breaks:
                self.emit(f"if {running}:")
                self.emit(f"    _ops -= _partial({chunk}, {var}); {running} = False")
                self.emit("    if _ops <= 0: _tick()")

    def for_loop(self, e: Node) -> None:
        it = e.iterable
        is_range = it.kind == "binary" and it.op in ("..", "..=") and it.r is not None
        if is_range:
            a, b = self.ex_seq([it.l, it.r])
            src = f"_irange({a}, {b}, {it.op == '..='})"
        elif self.reads_elements_only(e):
            src = f"_iter_shared({self.ex(it)})"
        else:
            src = f"_iter({self.ex(it)})"
        with self.block_scope():
            var = self.declare(e.var, key=("for", id(e)),
                               is_int=is_range or self.int_range_call(it))
            if e.idx:
                idx = self.declare(e.idx, key=("fori", id(e)), is_int=True)
                self.emit(f"for {idx}, {var} in enumerate({src}):")
            else:
                self.emit(f"for {var} in {src}:")
            self.indent += 1
            self.tick()
            self.body(e.body)
            self.indent -= 1

    @staticmethod
    def reads_elements_only(e: Node) -> bool:
        """Whether the loop variable of ``for x in iterable`` may be the array's element
        itself rather than a copy (``_iter_shared``): nothing in the body can change that
        element or keep it uncopied. The body changes neither ``x`` nor a variable the
        iterable reads (no assignment into them, method or by-reference call on them), calls
        nothing (no function, method, closure, module; only operators, indexing and
        properties, which change nothing) and throws nothing (a thrown value is not
        copied); every other place a value is stored copies it (value semantics), and no
        other variable can hold the element (stored values are copies)."""
        if calls_or_throws(e.body) or calls_or_throws(e.iterable):
            return False
        return not any(assigns(e.body, name) for name in {e.var, *variable_names(e.iterable)})

    def int_range_call(self, e: Node) -> bool:
        """Whether ``e`` is ``range(from, to)`` or ``range(from, to, step)`` of INTs calling the
        engine's built-in (no script function is named ``range``): a range of INTs, so a
        ``for`` loop over it gives INTs (``corefns.fn_range``)."""
        return e.kind == "call" and e.name == "range" and len(e.args) in (2, 3) and \
            "range" not in self.method_names and all(self.is_int(arg) for arg in e.args)

    def try_catch(self, e: Node, target: str | None) -> None:
        """``try``/``catch`` is a statement in Rhai: its value is ``()``."""
        exc = self.tmp("_e")
        function = self.frame.function
        function.blocks += 2
        first_loop = len(function.open_loops)
        self.emit("try:")
        self.indent += 1
        self.branch(e.body, None)
        self.indent -= 1
        self.emit(f"except _RhaiError as {exc}:")
        self.indent += 1
        if function.open_loops[first_loop:]:  # loops the error left count what they ran
            self.count_loops_left(function.open_loops[first_loop:])
        with self.block_scope() as frame:
            value = f"_catch({exc})"
            if e.var:
                py = self.declare(e.var)
                self.emit(f"{py} = {value}")
            else:
                self.emit(value)
            frame.function.catches.append(exc)
            self.branch(e.handler, None)
            frame.function.catches.pop()
        self.indent -= 1
        self.frame.function.blocks -= 2
        if target == RETURN:
            self.returned(None)
            self.emit("return None")
        elif target:
            self.tmp_int[target] = False
            self.emit(f"{target} = None")

    def switch(self, e: Node, target: str | None) -> None:
        subject = self.value_of(e.subject)
        done = self.tmp("_m")
        self.emit(f"{done} = False")
        # Rhai (src/eval/stmt.rs) tries the constant cases first, then the range cases
        ranges = [(p, g, b) for p, g, b in e.cases if any(x.kind == "range" for x in p)]
        subject_int = self.is_int(e.subject)
        for pass_ranges, cases in ((False, e.cases), (True, ranges)):
            self.switch_cases(subject, subject_int, done, cases, pass_ranges, target)
        self.emit(f"if not {done}:")
        self.indent += 1
        if e.default is not None:
            self.case_body(e.default, target)
        elif target:
            self.tmp_int[target] = False
            self.emit(f"{target} = None")
        else:
            self.emit("pass")
        self.indent -= 1

    def switch_cases(self, subject: str, subject_int: bool, done: str, cases: list,
                     pass_ranges: bool, target: str | None) -> None:
        """The tests of one pass over the cases: their constants, or their ranges."""
        for patterns, guard, body in cases:
            if pass_ranges:
                tests = [self.range_case(subject, subject_int, p)
                         for p in patterns if p.kind == "range"]
            else:
                tests = [self.value_case(subject, subject_int, p.value)
                         for p in patterns if p.kind != "range"]
            if not tests:
                continue
            self.emit(f"if not {done} and ({' or '.join(tests)}):")
            self.indent += 1
            if guard is not None:
                g = self.cond(guard)
                self.emit(f"if {g}:")
                self.indent += 1
            self.emit(f"{done} = True")
            self.case_body(body, target)
            if guard is not None:
                self.indent -= 1
            self.indent -= 1

    def value_case(self, subject: str, subject_int: bool, value: Any) -> str:
        """The test of a constant case: what ``_switch_value`` does (only a value of the
        case's own type matches), inline for INT, FLOAT and string constants in hot code."""
        kind = value_type(value)
        if kind is int and subject_int:
            return f"{subject} == {self.lit(value)}"
        if (kind is int or kind is float or kind is str) and self.hot():
            return f"(type({subject}) is {kind.__name__} and {subject} == {self.lit(value)})"
        return f"_switch_value({subject}, {self.lit(value)})"

    def range_case(self, subject: str, subject_int: bool, p: Node) -> str:
        """The test of a range case: what ``_switch_range`` does, inline for an INT or FLOAT
        subject in hot code."""
        inside = f"{p.start} <= {subject} {'<=' if p.inclusive else '<'} {p.end}"
        if subject_int:
            return f"({inside})"
        if not self.hot():
            return f"_switch_range({subject}, {p.start}, {p.end}, {p.inclusive})"
        return (f"({inside} if type({subject}) is int or type({subject}) is float else "
                f"_switch_range({subject}, {p.start}, {p.end}, {p.inclusive}))")

    def case_body(self, body: Node, target: str | None) -> None:
        if body.kind in CONTROL:
            self.control(body, target)
        else:
            code = self.copied(body)
            self.emit(f"{target} = {code}" if target else code)

    # ---- assignment ---------------------------------------------------------------------------
    def assign(self, s: Node) -> None:
        target, op = s.target, s.op[:-1]
        root = target
        while root.kind in ("index", "prop"):
            root = root.obj
        if root.kind == "qvar":  # module variables are constants (once found)
            self.ex(root)
            self.pos = (root.name_line, root.name_col)
            self.emit(f"_const_fail({self.const(root.name)})")
            return
        if target.kind == "var":
            var = self.lookup(target.name)
            if var is None:  # a scope variable (the host's, or defined by an ``eval``)
                name = self.const(target.name)
                if op:
                    value = self.compound(op, self.scope_var(target.name), self.ex(s.e),
                                          False, False)
                else:
                    value = self.copied(s.e)
                self.emit(f"_assign_scope_var({name}, {value})")
                return
            if var.const:
                raise ParseError(f"Cannot assign to constant '{target.name}'", s.line, s.col,
                                 kind="AssignmentToConstant")
            py = self.assign_var(var)
            if not self.is_int(s.e) or (op and op not in INT_OPS):
                self.demote(var)
            if (op and op != "+") or (not op and not self.is_list(s.e)):
                self.demote_list(var)
            if not self.keeps_str(op, s.e):
                self.demote_str(var)
            if op or not self.is_map(s.e):
                self.demote_map(var)
            keeps_float = self.is_float(s.e) if not op else \
                op in FLOAT_OPS and self.var_is_float(var) and \
                (self.is_float(s.e) or self.is_int(s.e))
            if not keeps_float:
                self.demote_float(var)
            elif op:  # a FLOAT stays one: Python's operator is Rhai's
                self.float_compound(py, op, self.value_of(s.e))
                return
            if op == "+" and not self.var_is_int(var):
                value = self.ex(s.e) if s.e.kind == "lit" else self.value_of(s.e)
                self.append_in_place(py, value, s.e, int if self.is_int(s.e) else None)
                return
            if op and never_int(s.e):
                value = f"{COMPOUND_SLOW[op]}({py}, {self.ex(s.e)})"
            elif op:
                value = self.ex(s.e)
                value = self.compound(op, py, value, self.var_is_int(var), self.is_int(s.e))
            else:
                value = self.copied(s.e)
            self.emit(f"{py} = {self.bare(value)}")
            return
        if target.kind == "this":
            # a compound operator copies what it keeps of its right operand (``+=`` onto an
            # array or map): the value is not copied before it, as for a variable
            value = self.ex(s.e) if op else self.copied(s.e)
            if op:
                value = self.compound(op, "_this(_tb)", value, False, False)
            else:
                self.emit("_this(_tb)")
            self.emit(f"_tb[0] = {value}")
            return
        # an index/property chain: read down to the last container, store, write back up
        chain = []
        node = target
        while node.kind in ("index", "prop"):
            chain.append(node)
            node = node.obj
        chain.reverse()
        value = self.value_of(s.e)
        if not op and self.needs_copy(s.e):  # also ``a ?? b``, which may yield a variable's
            # array; a compound operator copies what it keeps (as for a variable, above)
            t = self.tmp()
            self.emit(f"{t} = {self.copy_of(value)}")
            value = t
        keys = []
        for link in chain:
            if link.kind == "index":
                keys.append(self.value_of(link.idx))
            else:
                keys.append(self.const(link.name))
        root_var = None
        if node.kind == "var":
            root_var = self.lookup(node.name)
            if root_var is None:
                root = self.scope_var(node.name)
            else:
                root = root_var.py
                if root_var.const:
                    self.emit(f"_const_fail({self.const(node.name)})")
                    return
        elif node.kind == "this":
            root = "_this(_tb)"
        else:
            root = self.value_of(node)
        self.at(s)
        if node.kind == "this":  # read once: the chain's links are then read inline
            root = self.stored(THIS)
        guarded = chain[0].safe
        if guarded:
            self.emit(f"if {root} is not None:")
            self.indent += 1
        self.store_chain(s, op, chain, keys, root, root_var, node, value)
        if guarded:
            self.indent -= 1

    def float_compound(self, py: str, op: str, value: str) -> None:
        """``x op= value`` on a FLOAT variable with a FLOAT or INT ``value`` (a name or
        literal): Python's operator, but for a division by zero, left to ``_div``."""
        if op == "/":
            self.emit(f"{py} = {py} / {value} if {value} else _div({py}, {value})")
        else:
            self.emit(f"{py} {op}= {value}")

    def keeps_str(self, op: str, value: Node) -> bool:
        """Whether ``x = value`` (``op`` empty) or ``x op= value`` leaves a string in a
        string variable ``x``: a string assigned, or a string or INT appended (``+`` of a
        string and either is a string)."""
        if not op:
            return self.is_str(value)
        return op == "+" and (self.is_str(value) or self.is_int(value))

    def store_chain(self, s: Node, op: str, chain: list, keys: list, root: str,
                    root_var: Var | None, node: Node, value: str) -> None:
        """Emit the reads down an index/property chain, the store, and the write-backs. The
        lines of each link have the assignment's position, with the link's for its own errors
        (``Compiler.spot``); the compound operation has the assignment's. A ``?[``/``?.`` link
        after the first (``assign`` guards that one) whose object is ``()`` ends the whole
        assignment there, changing nothing (Rhai's ``eval_dot_index_chain_raw``): what follows
        it is emitted under ``if obj is not None:``."""
        at = self.pos
        guards = self.indent
        objs = [root]
        for link, key in zip(chain[:-1], keys[:-1]):
            if link.safe and len(objs) > 1:
                self.emit(f"if {objs[-1]} is not None:")
                self.indent += 1
            t = self.tmp("_o")
            self.pos = self.spot(link, at)
            self.read_link(t, link, objs[-1], key)
            objs.append(t)
        last, key = chain[-1], keys[-1]
        if last.safe and len(objs) > 1:
            self.emit(f"if {objs[-1]} is not None:")
            self.indent += 1
        try:
            self.store_last(s, op, chain, keys, objs, root_var, node, value, at)
        finally:
            self.indent = guards

    def store_last(self, s: Node, op: str, chain: list, keys: list, objs: list,
                   root_var: Var | None, node: Node, value: str, at: tuple) -> None:
        """The store at the end of a chain whose objects down to the last one were read into
        ``objs``, and the write-backs up to its root (see ``store_chain``)."""
        last, key = chain[-1], keys[-1]
        if op:
            cur = self.tmp()
            self.pos = self.spot(last, at)
            mark = len(self.lines)
            self.read_link(cur, last, objs[-1], key)
            if last.kind == "index":
                self.reads_for_update(mark, objs[-1], key, value)
            self.pos = at
            value = self.compound(op, cur, value, False, False)
            if not (SIMPLE.match(value) or value in ("None", "True", "False")):
                value = self.stored(value)
        self.pos = self.spot(last, at)
        simple_list = (len(chain) == 1 and last.kind == "index" and root_var is not None)
        if root_var is not None:
            self.demote(root_var)
            self.demote_str(root_var)
            self.demote_float(root_var)
        if simple_list:
            py = self.assign_var(root_var)
            v = value
            if not (SIMPLE.match(value) or value in ("None", "True", "False")):
                v = self.tmp()
                self.emit(f"{v} = {value}")
            if not self.hot():
                self.emit(f"{py} = _set_index({py}, {key}, {v})")
                return
            # strings and containers go through ``_set_index``, which checks their sizes
            scalar = self.is_scalar(s.e)
            if self.var_is_list(root_var) and self.is_int(last.idx) and scalar:
                self.emit(f"try: {py}[{key}] = {v}")
                self.emit(f"except IndexError: {py} = _set_index({py}, {key}, {v})")
                return
            sized_check = "" if scalar else f" and type({v}) not in _SIZED"
            if self.is_str(last.idx):  # a map's entry: a new one only while there is room
                is_map = "" if self.var_is_map(root_var) else f"type({py}) is dict and "
                self.emit(f"if {is_map}len({py}) < {self.max_map}{sized_check}: "
                          f"{py}[{key}] = {v}")
                self.emit(f"else: {py} = _set_index({py}, {key}, {v})")
                return
            if self.is_int(last.idx) and self.frame.function.blocks < DEEP_BLOCKS:
                if not op and self.is_str(s.e):
                    self.store_str_index(py, py, key, v)
                else:
                    self.store_int_index(py, py, key, v, sized_check)
                return
            int_check = "" if self.is_int(last.idx) else f" and type({key}) is int"
            self.emit(f"if type({py}) is list{int_check}{sized_check} and "
                      f"0 <= {key} < len({py}): {py}[{key}] = {v}")
            if not self.is_int(last.idx):  # a map with room for a new entry, as _set_index
                self.emit(f"elif type({py}) is dict and type({key}) is str{sized_check} and "
                          f"len({py}) < {self.max_map}: {py}[{key}] = {v}")
            self.emit(f"else: {py} = _set_index({py}, {key}, {v})")
            return
        new = value
        elems = objs[1:] + [None]  # what each link read (the last one is stored, not read)
        for link, key, obj, elem in reversed(list(zip(chain, keys, objs, elems))):
            self.pos = self.spot(link, at)
            setter = "_set_prop" if link.kind == "prop" else "_set_index"
            t = self.tmp("_n")
            if not self.hot():
                self.emit(f"{t} = {setter}({obj}, {key}, {new})")
            elif elem is None and link.kind == "index" and obj.isidentifier() and not op and \
                    self.is_str(s.e) and self.is_int(link.idx) and \
                    self.frame.function.blocks < DEEP_BLOCKS:
                if not SIMPLE.match(new):
                    new = self.stored(new)
                self.store_str_index(t, obj, key, new)
            elif elem is None and link.kind == "index" and obj.isidentifier() and \
                    not (s.e.kind == "lit" and value_type(s.e.value) is str) and \
                    self.is_int(link.idx) and self.frame.function.blocks < DEEP_BLOCKS:
                if not (SIMPLE.match(new) or new in ("None", "True", "False")):
                    new = self.stored(new)
                sized_check = "" if not op and self.is_scalar(s.e) else \
                    f" and type({new}) not in _SIZED"
                self.store_int_index(t, obj, key, new, sized_check)
            elif elem is None and link.kind == "index" and obj.isidentifier() and \
                    not (s.e.kind == "lit" and value_type(s.e.value) is str):
                self.store_inline(t, obj, key, new, not op and self.is_scalar(s.e), list,
                                  self.in_list(obj, key, link.idx))
            elif elem is None and link.kind == "prop" and obj.isidentifier():
                self.store_inline(t, obj, key, new, not op and self.is_scalar(s.e), dict,
                                  f"len({obj}) < {self.max_map}")
            elif elem is not None and obj.isidentifier():
                self.emit(self.write_back(t, link, obj, key, new, elem))
            else:
                self.emit(f"{t} = {setter}({obj}, {key}, {new})")
            new = t
        self.pos = at
        if root_var is not None:
            self.emit(f"{self.assign_var(root_var)} = {new}")
        elif node.kind == "this":
            self.emit(f"_tb[0] = {new}")

    def reads_for_update(self, mark: int, obj: str, key: str, value: str) -> None:
        """The lines from ``mark`` on read ``obj[key]`` for the compound assignment
        ``obj[key] op= value``: their calls ``_index(obj, key)`` (the generic read, whatever
        inline path ``read_link`` takes) become ``_index_update``'s, which fails on a value
        without an indexer as Rhai's compound assignment does, naming ``value``'s type
        (``Runtime.index_update``)."""
        read = f"_index({obj}, {key})"
        for line in self.lines[mark:]:
            line[1] = line[1].replace(read, f"_index_update({obj}, {key}, {value})")

    def read_link(self, t: str, link: Node, obj: str, key: str) -> None:
        """``t = obj[key]`` / ``t = obj.key`` inside a chain: an array element (INT index
        inside it) or a map's property read inline, anything else through the runtime."""
        if not obj.isidentifier() or not self.hot():
            getter = "_prop" if link.kind == "prop" else "_index"
            self.emit(f"{t} = {getter}({obj}, {key})")
        elif link.kind == "prop":
            self.emit(f"{t} = {obj}.get({key}) if type({obj}) is dict else _prop({obj}, {key})")
        elif self.is_int(link.idx) and self.frame.function.blocks < DEEP_BLOCKS:
            # Python's indexing of an array (negative indexes count back, as Rhai's); out of
            # bounds, ``_index`` raises Rhai's error (as ``int_index_chain``)
            fast = f"{obj}[{key}]" if self.is_list(link.obj) else \
                f"{obj}[{key}] if type({obj}) is list else _index({obj}, {key})"
            self.emit(f"try: {t} = {fast}")
            self.emit(f"except IndexError: {t} = _index({obj}, {key})")
        else:
            self.emit(f"{t} = {obj}[{key}] if type({obj}) is list and "
                      f"{self.in_list(obj, key, link.idx)} else _index({obj}, {key})")

    def store_int_index(self, t: str, obj: str, key: str, value: str, sized_check: str) -> None:
        """``t = obj`` after ``obj[key] = value`` with an INT ``key``, inline when ``obj`` is an
        array and the value has no size (``sized_check`` tests that, or is empty when it is
        known): Python's own store, whose IndexError (out of bounds; negative indexes count
        back, as Rhai's) leaves it to ``_set_index``, which raises Rhai's error. Anything
        else through ``_set_index``, which checks sizes. ``t`` may be ``obj`` itself."""
        stored = "" if t == obj else f"; {t} = {obj}"
        self.emit(f"if type({obj}) is list{sized_check}:")
        self.emit(f"    try: {obj}[{key}] = {value}{stored}")
        self.emit(f"    except IndexError: {t} = _set_index({obj}, {key}, {value})")
        self.emit(f"else: {t} = _set_index({obj}, {key}, {value})")

    def store_str_index(self, t: str, obj: str, key: str, value: str) -> None:
        """``t = obj`` after ``obj[key] = value`` with an INT ``key`` and a string ``value``:
        inline when ``obj`` is an array and the string is short (no longer than a quarter of
        max_string_size, which ``_set_index`` would not measure): Python's own store, the
        array's remembered sizes dropped (``_set_index`` drops them when an element may have
        grown); out of bounds, or anything else, through ``_set_index``."""
        stored = "" if t == obj else f"; {t} = {obj}"
        short = f" and len({value}) <= {self.max_string // 4}"
        if value.startswith("K_") and not is_hole(self.const_values[value]) and \
                len(self.const_values[value].encode("utf-8", "surrogatepass")) <= \
                self.max_string // 4:
            short = ""  # a string literal short enough
        self.emit(f"if type({obj}) is list{short}:")
        self.emit(f"    try: {obj}[{key}] = {value}{stored}")
        self.emit(f"    except IndexError: {t} = _set_index({obj}, {key}, {value})")
        self.emit(f"    if _known: _known.pop(_id({obj}), None)")
        self.emit(f"else: {t} = _set_index({obj}, {key}, {value})")

    def store_inline(self, t: str, obj: str, key: str, value: str, scalar: bool,
                     container: type, room: str) -> None:
        """The store at the end of a chain, inline when ``obj`` is a ``container`` (list or
        dict) with ``room`` (an INT index inside the array; room for a new map entry) and the
        value has no size: all ``_set_index``/``_set_prop`` would do. Strings and containers
        go through them, which check their sizes."""
        if not (SIMPLE.match(value) or value in ("None", "True", "False")):
            value = self.stored(value)
        sized_check = "" if scalar else f" and type({value}) not in _SIZED"
        setter = "_set_index" if container is list else "_set_prop"
        self.emit(f"if type({obj}) is {container.__name__}{sized_check} and {room}: "
                  f"{obj}[{key}] = {value}; {t} = {obj}")
        self.emit(f"else: {t} = {setter}({obj}, {key}, {value})")

    def write_back(self, t: str, link: Node, obj: str, key: str, new: str, elem: str) -> str:
        """A chain's write-back of ``new`` to ``obj[key]`` / ``obj.key``, from which ``elem``
        was read. When ``new`` is ``elem`` (a container changed in place) and ``elem`` was
        the element itself (an array at an INT index, a map at a string key or property),
        storing it again would change nothing and check nothing: it is skipped."""
        if link.kind == "prop":
            same = f"{new} is {elem} and type({obj}) is dict"
            setter = "_set_prop"
        elif self.is_int(link.idx):  # the test of ``obj``'s type only if not static
            same = f"{new} is {elem}" if self.is_list(link.obj) else \
                f"{new} is {elem} and type({obj}) is list"
            setter = "_set_index"
        elif link.idx.kind == "lit" and value_type(link.idx.value) is str:
            same = f"{new} is {elem} and type({obj}) is dict"
            setter = "_set_index"
        else:
            same = (f"{new} is {elem} and (type({obj}) is list and type({key}) is int or "
                    f"type({obj}) is dict and type({key}) is str)")
            setter = "_set_index"
        return f"{t} = {obj} if {same} else {setter}({obj}, {key}, {new})"

    def append_in_place(self, py: str, value: str, node: Node, known: type | None) -> None:
        """``x += y`` on a variable of unknown type: INT and FLOAT sums inline; a string
        appends in place (CPython then reuses the buffer, so building a string in a loop is
        linear, not quadratic), a long result checked each time: its size, and the deadline
        (the append may have copied it); anything else through ``_add_assign``. A ``y`` of a
        known type (a literal's, or ``known``) keeps only the cases of its type: for an INT,
        the INT sum, the string append of its text (what ``+`` gives) and the FLOAT sum."""
        if not self.hot():
            self.emit(f"{py} = _add_assign({py}, {value})")
            return
        if node.kind == "lit":
            known = value_type(node.value)

        def both(kind: type) -> str:
            return f"type({py}) is {kind.__name__}" + \
                ("" if known is kind else f" and type({value}) is {kind.__name__}")

        cases = []
        if known in (None, int):
            r = self.tmp("_r")
            cases.append(f"{both(int)} and {in_i64(r, f'{py} + {value}')}: {py} = {r}")
        if known in (None, str, int):
            cases.append(f"type({py}) is str:" if known is int else f"{both(str)}:")
        if known in (None, float):
            cases.append(f"{both(float)}: {py} += {value}")
        elif known is int:
            cases.append(f"type({py}) is float: {py} += {value}")
        for i, case in enumerate(cases):
            self.emit(("if " if i == 0 else "elif ") + case)
            if case.endswith(":"):  # the string case
                self.emit(f"    {py} += {f'str({value})' if known is int else value}")
                self.emit(f"    if len({py}) > {min(self.max_string // 4, LONG_STRING)}: "
                          f"_check_long_string({py})")
        self.emit(f"else: {py} = _add_assign({py}, {value})" if cases else
                  f"{py} = _add_assign({py}, {value})")

    def compound(self, op: str, cur: str, value: str, cur_int: bool, value_int: bool) -> str:
        if op in ARITH:
            pyop, _ = ARITH[op]
            slow = "_add_assign" if op == "+" else ARITH[op][1]
            return self.arith(pyop, cur, value, slow, cur_int, value_int)
        return f"{COMPOUND_SLOW[op]}({cur}, {value})"

