"""Runs of one compiled script are isolated from each other although the engine reuses their
prepared namespaces and runtimes (``Engine.eval``): nothing a run leaves behind — variables,
constants, scope variables, output, operation counts, deadline, call depth, what ``eval``
declared, closures it returned — reaches the next run; re-entrant and concurrent runs of the
same script each have their own; a kept run never keeps its script alive."""
from __future__ import annotations

import gc
import threading
import time
import weakref

import pytest

from worker.engine import Engine, EvalError, LimitError, RhaiError
from worker.engine.engine import IDLE_RUNS

SUM_LOOP = "let s = 0; for i in 0..n { s += i; } s"
PEEK = "fn peek() { global::X }\n"  # reads the run's global constant X at run time


def largest_within(limits: dict, script: str, scope: dict, host_fns: dict | None = None) -> int:
    """The largest ``n`` for which ``script`` (with ``scope``) stays within ``limits`` on
    engines that never ran anything before (so nothing is reused): the exact boundary a reused
    run must keep."""
    def fits(n: int) -> bool:
        engine = Engine(**limits)
        for name, fn in (host_fns or {}).items():
            engine.register_fn(name, fn)
        try:
            engine.eval(script, scope={**scope, "n": n})
            return True
        except LimitError:
            return False

    low, high = 0, 1
    while fits(high):
        low, high = high, high * 2
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if fits(mid) else (low, mid)
    return low


def assert_reused(engine: Engine, compiled) -> None:
    """The engine keeps a run of ``compiled`` for reuse: the test did test reuse."""
    assert compiled.idle.get(engine), "no run was kept for reuse"


def assert_boundary(engine: Engine, compiled, n_max: int) -> None:
    """``compiled`` runs with ``n_max`` and fails with ``n_max + 1``, each twice in a row."""
    for _ in range(2):
        assert engine.eval(compiled, scope={"n": n_max}) == n_max * (n_max - 1) // 2
        with pytest.raises(LimitError, match="max_operations"):
            engine.eval(compiled, scope={"n": n_max + 1})


def test_operation_count_starts_from_zero_every_run():
    limits = {"max_operations": 3000}
    n_max = largest_within(limits, SUM_LOOP, {})
    engine = Engine(**limits)
    compiled = engine.compile(SUM_LOOP)
    assert_boundary(engine, compiled, n_max)
    most = n_max * 3 // 4  # each run uses most of max_operations: two would be over it
    for _ in range(3):
        assert engine.eval(compiled, scope={"n": most}) == most * (most - 1) // 2
    assert_reused(engine, compiled)


def test_a_throw_mid_loop_leaves_no_count_behind():
    script = "let s = 0; for i in 0..n { if i == stop { throw i; } s += i; } s"
    limits = {"max_operations": 3000}
    n_max = largest_within(limits, script, {"stop": -1})
    engine = Engine(**limits)
    compiled = engine.compile(script)
    with pytest.raises(RhaiError, match="Runtime error: 777"):
        engine.eval(compiled, scope={"n": n_max, "stop": 777})
    for _ in range(2):  # the same boundary as on a fresh engine
        assert engine.eval(compiled, scope={"n": n_max, "stop": -1}) == n_max * (n_max - 1) // 2
        with pytest.raises(LimitError, match="max_operations"):
            engine.eval(compiled, scope={"n": n_max + 1, "stop": -1})
        with pytest.raises(RhaiError, match="Runtime error: 777"):
            engine.eval(compiled, scope={"n": n_max, "stop": 777})
    assert_reused(engine, compiled)


def test_variables_and_global_constants_do_not_survive_a_run():
    engine = Engine()
    compiled = engine.compile(PEEK + """
        if v == 2 { return [peek(), is_def_var("x")]; }
        let x = 10;
        const X = 1;
        [peek(), is_def_var("x")]
    """)
    assert engine.eval(compiled, scope={"v": 1}) == [1, True]
    with pytest.raises(EvalError, match="Variable not found: global::X"):
        engine.eval(compiled, scope={"v": 2})
    engine2 = Engine()
    compiled2 = engine2.compile('if v == 2 { return is_def_var("x"); } let x = 1; x')
    assert engine2.eval(compiled2, scope={"v": 1}) == 1
    assert engine2.eval(compiled2, scope={"v": 2}) is False
    assert_reused(engine, compiled)
    assert_reused(engine2, compiled2)


def test_scope_variables_belong_to_their_call():
    engine = Engine()
    compiled = engine.compile('if is_def_var("a") { a += 1; a } else { "no a" }')
    scope = {"a": 1}
    assert engine.eval(compiled, scope=scope) == 2
    assert scope == {"a": 1}  # the host's dict is not changed
    assert engine.eval(compiled) == "no a"
    assert engine.eval(compiled, scope=scope) == 2
    assert_reused(engine, compiled)


def test_variables_eval_declared_do_not_survive_a_run():
    engine = Engine()
    compiled = engine.compile('if v == 1 { eval("let y = 5;"); } if is_def_var("y") { y } '
                              'else { "no y" }')
    assert engine.eval(compiled, scope={"v": 1}) == 5
    assert engine.eval(compiled, scope={"v": 2}) == "no y"
    assert engine.eval(compiled, scope={"v": 1}) == 5
    assert_reused(engine, compiled)


def test_printed_output_goes_to_the_callback_of_the_moment():
    first: list[str] = []
    engine = Engine(on_print=first.append)
    compiled = engine.compile('if v == 1 { print("one"); } print(`run ${v}`);')
    engine.eval(compiled, scope={"v": 1})
    second: list[str] = []
    engine.on_print = second.append  # replaced between runs: the next run uses it
    engine.eval(compiled, scope={"v": 2})
    assert first == ["one", "run 1"]
    assert second == ["run 2"]
    assert_reused(engine, compiled)


def test_each_run_has_its_own_deadline():
    engine = Engine()
    compiled = engine.compile("40 + 2")
    assert engine.eval(compiled) == 42
    with pytest.raises(LimitError, match="timeout"):
        engine.eval(compiled, deadline=time.monotonic() - 1)  # already over
    assert engine.eval(compiled) == 42
    with pytest.raises(LimitError, match="timeout"):
        engine.eval(compiled, deadline=time.monotonic() - 1)
    assert_reused(engine, compiled)


def test_call_depth_after_an_error_deep_in_calls():
    script = """
        fn down(x) { f(x - 1) }
        fn f(k) { if k == 0 { if fail { throw "deep"; } 0 } else { [k].map(Fn("down"))[0] + 1 } }
        f(n)
    """
    limits = {"max_call_levels": 24}
    engine = Engine(**limits)
    compiled = engine.compile(script)
    deepest = None
    for n in range(1, 40):  # the deepest recursion a fresh engine allows
        try:
            Engine(**limits).eval(compiled.source, scope={"n": n, "fail": False})
            deepest = n
        except LimitError:
            break
    assert deepest is not None
    for _ in range(2):
        with pytest.raises(RhaiError, match="deep"):
            engine.eval(compiled, scope={"n": deepest, "fail": True})
        assert engine.eval(compiled, scope={"n": deepest, "fail": False}) == deepest
        with pytest.raises(LimitError, match="max_call_levels"):
            engine.eval(compiled, scope={"n": deepest + 1, "fail": False})
    assert_reused(engine, compiled)


def test_closures_returned_by_earlier_runs_keep_their_own_run():
    engine = Engine()
    compiled = engine.compile("const X = v; let n = 0; || { n += 1; [global::X, n] }")
    call = engine.compile("[f.call(), f.call()]")
    first = engine.eval(compiled, scope={"v": 1}, raw=True)
    second = engine.eval(compiled, scope={"v": 2}, raw=True)
    assert engine.eval(call, scope={"f": first}) == [[1, 1], [1, 2]]
    third = engine.eval(compiled, scope={"v": 3}, raw=True)
    assert engine.eval(call, scope={"f": second}) == [[2, 1], [2, 2]]
    assert engine.eval(call, scope={"f": first}) == [[1, 3], [1, 4]]
    assert engine.eval(call, scope={"f": third}) == [[3, 1], [3, 2]]


def test_a_closure_given_to_a_host_function_keeps_its_run():
    kept = []
    engine = Engine()
    engine.register_fn("keep", kept.append)
    compiled = engine.compile("const X = v; keep(|| global::X); v")
    call = engine.compile("f.call()")
    assert engine.eval(compiled, scope={"v": 1}) == 1
    assert engine.eval(compiled, scope={"v": 2}) == 2
    assert [engine.eval(call, scope={"f": f}) for f in kept] == [1, 2]


def test_a_closure_made_by_eval_keeps_the_run_whose_functions_it_calls():
    engine = Engine()
    compiled = engine.compile(PEEK + 'const X = v; eval("let g = || peek();"); g')
    call = engine.compile("f.call()")
    first = engine.eval(compiled, scope={"v": 1}, raw=True)
    engine.eval(compiled, scope={"v": 2}, raw=True)
    assert engine.eval(call, scope={"f": first}) == 1


def test_a_host_function_may_run_the_same_compiled_script():
    engine = Engine()
    compiled = engine.compile(PEEK + """
        const X = v;
        if v == 2 { return [peek(), v]; }
        let inner = reenter();
        [peek(), v, inner]
    """)
    engine.register_fn("reenter", lambda: engine.eval(compiled, scope={"v": 2}))
    for _ in range(3):
        assert engine.eval(compiled, scope={"v": 1}) == [1, 1, [2, 2]]
    assert_reused(engine, compiled)


def test_concurrent_runs_from_threads_are_isolated():
    threads = 4
    limits = {"max_operations": 5000}
    script = PEEK + "const X = v; meet(); let s = 0; for i in 0..n { s += i; } [peek(), v, s]"
    n_max = largest_within(limits, script, {"v": 0}, {"meet": lambda: None})
    barrier = threading.Barrier(threads)
    engine = Engine(**limits)
    engine.register_fn("meet", lambda: barrier.wait(timeout=60))  # all runs are in progress
    compiled = engine.compile(script)
    results: dict[tuple[int, int], object] = {}

    def run(index: int, n: int) -> None:
        try:
            results[index, n] = engine.eval(compiled, scope={"v": index, "n": n})
        except LimitError as exc:
            results[index, n] = exc.limit

    for n in (n_max, n_max + 1, n_max):
        workers = [threading.Thread(target=run, args=(i, n)) for i in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    for index in range(threads):
        assert results[index, n_max] == [index, index, n_max * (n_max - 1) // 2]
        assert results[index, n_max + 1] == "max_operations"
    assert_reused(engine, compiled)
    assert len(compiled.idle[engine]) <= IDLE_RUNS


def test_scripts_with_modules_run_isolated(tmp_path):
    (tmp_path / "counter.rhai").write_text('print("loading"); export let n = 1;')
    printed: list[str] = []
    engine = Engine(module_dir=tmp_path, on_print=printed.append)
    compiled = engine.compile('import "counter" as c; c::n + v')
    assert [engine.eval(compiled, scope={"v": v}) for v in (1, 2)] == [2, 3]
    assert printed == ["loading", "loading"]  # every run loads its own modules
    assert not compiled.idle.get(engine)  # runs that use modules are not kept
    through_eval = engine.compile('eval("import \\"counter\\" as c; let x = c::n + v;"); x')
    assert [engine.eval(through_eval, scope={"v": v}) for v in (1, 2)] == [2, 3]
    assert printed == ["loading"] * 4
    assert_reused(engine, through_eval)  # the modules are the eval's; the run is reset


def test_a_script_compiled_under_other_limits_runs_under_the_engines():
    strict, loose = Engine(max_operations=3000), Engine(max_operations=300_000)
    compiled = strict.compile(SUM_LOOP)  # the same settings: both engines run this code
    for _ in range(2):
        with pytest.raises(LimitError, match="max_operations"):
            strict.eval(compiled, scope={"n": 10_000})
        assert loose.eval(compiled, scope={"n": 10_000}) == 10_000 * 9_999 // 2
    tiny = Engine(max_operations=500)  # other settings (chunk size): recompiled
    with pytest.raises(LimitError, match="max_operations"):
        tiny.eval(compiled, scope={"n": 1000})


def test_limits_are_read_only():
    engine = Engine()
    with pytest.raises(TypeError):
        engine.limits["max_operations"] = 1  # type: ignore[index]


def test_kept_runs_do_not_keep_the_script_alive():
    engine = Engine()
    compiled = engine.compile("let a = [1, 2]; a.len()")
    for _ in range(3):
        assert engine.eval(compiled) == 2
    assert engine.eval(engine.compile("1"), scope={"c": 1}) == 1
    gone = weakref.ref(compiled)
    gc.disable()  # freed by reference counting: no cycle holds it
    try:
        del compiled
        assert gone() is None
    finally:
        gc.enable()


def test_runs_of_distinct_scripts_share_no_namespace(tmp_path):
    """Every run's namespace starts as a copy of one per-engine dict of stateless hooks
    (``Engine.static_hooks``): no run, eval or module may change that dict, and each run of a
    new script gets a namespace and runtime of its own."""
    (tmp_path / "m.rhai").write_text("export const K = 2; fn twice(x) { x * 2 }")
    engine = Engine(module_dir=tmp_path)
    shared = dict(engine.static_hooks)
    scripts = ['let a = [1]; a.push(v); a.len()', 'eval("let b = v * 3;"); b',
               'import "m" as m; m::twice(v) + m::K', 'let f = |x| x + v; f.call(1)',
               'const C = 4; global::C + v']
    assert [engine.eval(source, scope={"v": 1}) for source in scripts] == [2, 3, 4, 2, 5]
    assert engine.static_hooks == shared
    first, second = engine.compile("let x = v; x"), engine.compile("let y = v; y")
    assert engine.eval(first, scope={"v": 1}) == 1 and engine.eval(second, scope={"v": 2}) == 2
    (ns1, rt1), (ns2, rt2) = first.idle[engine][0], second.idle[engine][0]
    assert ns1 is not ns2 and rt1 is not rt2 and ns1 is not engine.static_hooks
    assert ns1["_tick"].__self__ is rt1 and ns2["_tick"].__self__ is rt2
