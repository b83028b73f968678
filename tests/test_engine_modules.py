"""Rhai modules in the engine: ``import``/``export``, ``m::x``, ``m::f()``, sub-modules, the
resolver kept inside its folder, and modules held to the run's limits.

Rules from Rhai's source: src/module/resolvers/file.rs (FileModuleResolver: ``.rhai`` forced,
relative paths against the importing module's path, one evaluation cached per file),
src/module/mod.rs (``Module::eval_ast_as_new_raw``: exported variables with their values at the
end, non-private functions, the imports left at the end as sub-modules), src/eval/stmt.rs
(``Stmt::Import``: the path must be a string; ``ErrorModuleNotFound``), src/parser.rs
(``parse_export``: top level only). The expected values below are the real Rhai's
(../shared/rhai-native/rhai-oracle run in the module folder); ``test_same_as_rhai`` asks it
again when it is present.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rhai_compare import same_value, typed
from worker.engine import Engine, EvalError, LimitError, ParseError

ORACLE = Path(__file__).resolve().parent.parent.parent / "shared" / "rhai-native" / "rhai-oracle"

MODULES = {
    "m.rhai": """
        export let y = 1;
        let hidden = 2;
        const C = 3;
        export C as cc;
        fn f(x) { x + g() }
        private fn g() { 100 }
        y = 7;                      // a module variable is the value at the end
    """,
    "a.rhai": """
        import "b" as b;            // left at the end: the sub-module a::b
        export let av = b::bv + 1;
        fn af() { b::bf() * 2 }     // a module function sees the module's own imports
    """,
    "b.rhai": "export let bv = 10; fn bf() { 21 }",
    "greet.rhai": 'const HI = "hello"; fn greet(who) { `${global::HI}, ${who}` }',
    "shadow.rhai": """
        export let x = 1;
        let x = 2;                  // not exported: the first x keeps the alias
        let z = 5;
        export z as w;
        export z as v;
    """,
    "counter.rhai": 'print("loading counter"); export let n = 1;',
    "t.rhai": 'export let tv = "top-t";',
    "u.rhai": 'export let uv = "top-u";',
    "sub/s.rhai": 'import "t" as t; export let sv = t::tv;',
    "sub/t.rhai": 'export let tv = "sub-t";',
    "sub/u.rhai": 'export let uv = "sub-u";',
    "sub/s3.rhai": 'import "t3" as t; export let sv = t::tv;',
    "sub/t3.rhai": 'import "u" as u; export let tv = u::uv;',
    "err.rhai": "let a = 1;\nlet b = a / 0;",
    "perr.rhai": "let a = ;",
    "early_exit.rhai": "export let a = 1; exit(42); export let b = 2;",
    "thrower.rhai": 'export let a = 1; throw "boom";',
    "tools.rhai": """
        export let arr = [1, 2];
        export let add_one = |x| x + 1;
        fn total(a) { let s = 0; for x in a { s += x; } s }
    """,
}

CASES = [  # (script, the real Rhai's value or error kind)
    ('import "m" as m; [m::y, m::cc, m::f(1)]', [7, 3, 101]),
    ('import "m" as m; m::hidden', "ErrorVariableNotFound"),
    ('import "m" as m; m::C', "ErrorVariableNotFound"),
    ('import "m" as m; m::g()', "ErrorFunctionNotFound"),
    ('import "m" as m; m::f(1, 2)', "ErrorFunctionNotFound"),
    ('import "m" as m; m::f("x")', "x100"),
    ('import "m"; 1', 1),
    ('import "m.rhai" as m; m::y', 7),
    ('import "m.txt" as m; m::y', 7),
    ('let m = 1; import "m" as m; m + m::y', 8),
    ('import "a" as a; [a::av, a::af(), a::b::bv, a::b::bf()]', [11, 42, 10, 21]),
    ('import "a" as a; a::b::nope', "ErrorVariableNotFound"),
    ('import "greet" as g; g::greet("you")', "hello, you"),  # the module's own constants
    ('import "a" as a; a::nope::x', "ErrorVariableNotFound"),
    ('import "shadow" as s; [s::x, s::w, s::v]', [1, 5, 5]),
    ('import "counter" as a; import "counter" as b; a::n + b::n', 2),
    ('import "sub/s" as s; s::sv', "sub-t"),
    ('import "sub/s3" as s; s::sv', "top-u"),
    ('fn h() { m::y } import "m" as m; h()', 7),
    ('fn f() { import "m" as m; m::y } f()', 7),
    ('fn f() { import "m" as m; } f(); m::y', "ErrorModuleNotFound"),
    ('{ import "m" as m; } m::y', "ErrorModuleNotFound"),
    ('m::y', "ErrorModuleNotFound"),
    ('import "m" as m; let v = m::y; v += 1; [v, m::y]', [8, 7]),
    ('import "m" as m; m::y = 5;', "ErrorAssignmentToConstant"),
    ('import "m" as m; m::f', "ErrorVariableNotFound"),
    ('import "nope" as n;', "ErrorModuleNotFound"),
    ('import 5 as n;', "ErrorMismatchDataType"),
    ('import "err" as e;', "ErrorInModule"),
    ('import "perr" as e;', "ErrorInModule"),
    ('import "early_exit" as e; [e::a, 5]', [1, 5]),  # exit ends the module's script only
    ('import "early_exit" as e; e::b', "ErrorVariableNotFound"),
    ('import "thrower" as t;', "ErrorInModule"),
    ('let r = 0; try { import "thrower" as t; r = 1; } catch (err) { r = err; } r', "boom"),
    ('import "tools" as t; t::total([1, 2, 3])', 6),
    ('import "tools" as t; let a = t::arr; a.push(3); [a, t::arr]', [[1, 2, 3], [1, 2]]),
]


def write_modules(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write_modules(tmp_path / "modules", MODULES)


def run(engine: Engine, script: str) -> object:
    """The value, or the error kind."""
    try:
        return engine.eval(script)
    except (EvalError, ParseError) as exc:
        return exc.kind


@pytest.mark.parametrize("script, expected", CASES)
def test_import_export_as_rhai_does(folder: Path, script: str, expected: object) -> None:
    engine = Engine(module_dir=folder, on_print=lambda s: None)
    assert run(engine, script) == expected


@pytest.mark.skipif(not ORACLE.is_file(),
                    reason=f"the Rhai oracle is not here ({ORACLE}); it exists only next to a "
                           "checkout in the development workspace")
def test_same_as_rhai(folder: Path) -> None:
    """The real Rhai, run in the module folder (its resolver resolves from there), agrees."""
    proc = subprocess.run([str(ORACLE)], input="\n\x1e\n".join(s for s, _ in CASES),
                          capture_output=True, text=True, cwd=folder, timeout=120)
    answers = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(answers) == len(CASES), proc.stderr
    engine = Engine(module_dir=folder, on_print=lambda s: None)
    for (script, _), answer in zip(CASES, answers):
        ours = run(engine, script)
        if answer["ok"]:
            assert same_value(typed(ours), answer["value"]), (script, ours, answer)
        else:
            assert ours == answer["kind"], (script, ours, answer)


def test_errors_name_the_module_and_where(folder: Path) -> None:
    engine = Engine(module_dir=folder)
    with pytest.raises(EvalError) as caught:
        engine.eval('let x = 1;\nimport "err" as e;')
    assert str(caught.value) == ("Division by zero: 1 / 0 (line 2, position 11)\n"
                                 "in module 'err' (line 2, position 8)")
    with pytest.raises(EvalError) as caught:
        engine.eval('import "perr" as e;')
    assert str(caught.value) == ("Syntax error: Unexpected ';' (line 1, position 9)\n"
                                 "in module 'perr' (line 1, position 8)")
    with pytest.raises(EvalError, match=r"^Module not found: nope \(line 1, position 8\)$"):
        engine.eval('import "nope" as n;')
    with pytest.raises(EvalError, match=r"^Function not found: m::g \(\) \(line 1, "
                                        r"position 21\)$"):
        engine.eval('import "m" as m; m::g()')
    with pytest.raises(EvalError, match=r"^Module not found: q::r \(line 1, position 1\)$"):
        engine.eval('q::r::f()')


def test_without_a_folder_no_module_is_found(folder: Path) -> None:
    engine = Engine()
    with pytest.raises(EvalError) as caught:
        engine.eval('import "m" as m;')
    assert caught.value.kind == "ErrorModuleNotFound"
    with pytest.raises(ValueError, match="not a directory"):
        Engine(module_dir=folder / "m.rhai")


@pytest.mark.parametrize("path", ["../secret", "sub/../m", "/etc/hostname", "..", ".", ""])
def test_paths_outside_the_folder_are_refused(tmp_path: Path, path: str) -> None:
    folder = write_modules(tmp_path / "modules", {"m.rhai": "export let y = 1;"})
    (tmp_path / "secret.rhai").write_text('export let s = "leaked";')
    with pytest.raises(EvalError) as caught:
        Engine(module_dir=folder).eval(f'import {json.dumps(path)} as x; x::s')
    assert caught.value.kind == "ErrorModuleNotFound"
    assert "leaked" not in str(caught.value)


@pytest.mark.parametrize("path", ["a" * 5000, "a/" * 3000 + "b", "sub", "m\0"])
def test_unusable_paths_are_not_found(folder: Path, path: str) -> None:
    with pytest.raises(EvalError) as caught:
        Engine(module_dir=folder).eval(f"import {json.dumps(path)} as x;")
    assert caught.value.kind == "ErrorModuleNotFound"


def test_symlinks_leading_out_of_the_folder_are_refused(tmp_path: Path) -> None:
    outside = write_modules(tmp_path / "outside", {"secret.rhai": 'export let s = "leaked";'})
    folder = write_modules(tmp_path / "modules", {"inside.rhai": 'export let s = "fine";'})
    os.symlink(outside / "secret.rhai", folder / "file_link.rhai")
    os.symlink(outside, folder / "dir_link")
    os.symlink(folder / "inside.rhai", folder / "inner_link.rhai")
    engine = Engine(module_dir=folder)
    for path in ("file_link", "dir_link/secret"):
        with pytest.raises(EvalError, match="outside the modules folder") as caught:
            engine.eval(f'import "{path}" as x; x::s')
        assert caught.value.kind == "ErrorModuleNotFound"
    assert engine.eval('import "inner_link" as x; x::s') == "fine"


def test_the_folder_itself_may_be_a_symlink(tmp_path: Path) -> None:
    real = write_modules(tmp_path / "real", {"m.rhai": "export let y = 1;"})
    os.symlink(real, tmp_path / "link")
    assert Engine(module_dir=tmp_path / "link").eval('import "m" as m; m::y') == 1


def test_cyclic_imports_end_with_an_error(tmp_path: Path) -> None:
    folder = write_modules(tmp_path, {"self.rhai": 'import "self" as s; export let x = 1;',
                                      "p.rhai": 'import "q" as q;',
                                      "q.rhai": 'import "p" as p;'})
    engine = Engine(module_dir=folder)
    with pytest.raises(EvalError, match="Cyclic import: self -> self") as caught:
        engine.eval('import "self" as s;')
    assert caught.value.kind == "ErrorInModule"
    with pytest.raises(EvalError, match="Cyclic import: p -> q -> p"):
        engine.eval('import "p" as p;')


def test_modules_run_once_per_run_and_runs_share_nothing(folder: Path) -> None:
    printed: list[str] = []
    engine = Engine(module_dir=folder, on_print=printed.append)
    script = 'for i in 0..3 { import "counter" as c; } import "counter" as c; c::n'
    assert engine.eval(script) == 1
    assert engine.eval(script) == 1
    assert printed == ["loading counter", "loading counter"]


def test_modules_are_compiled_once_and_again_when_changed(folder: Path) -> None:
    engine = Engine(module_dir=folder)
    assert engine.eval('import "b" as b; b::bv') == 10
    compiled = engine.modules.cache[str((folder / "b.rhai").resolve())][1]
    assert engine.eval('import "b" as b; b::bv') == 10
    assert engine.modules.cache[str((folder / "b.rhai").resolve())][1] is compiled
    (folder / "b.rhai").write_text("export let bv = 12345;")
    assert engine.eval('import "b" as b; b::bv') == 12345


def test_a_module_sees_none_of_the_importers_variables(folder: Path) -> None:
    write_modules(folder, {"peek.rhai": "export let seen = secret;"})
    with pytest.raises(EvalError) as caught:
        Engine(module_dir=folder).eval('let secret = 42; import "peek" as p; p::seen',
                                       scope={"secret": 1})
    assert caught.value.kind == "ErrorInModule" and "secret" in str(caught.value)


def test_module_functions_and_closures_can_be_used_from_the_script(folder: Path) -> None:
    engine = Engine(module_dir=folder)
    assert engine.eval('import "tools" as t; let f = t::add_one; f.call(41)') == 42
    assert engine.eval('import "tools" as t; [1, 2].map(|x| t::total([x, x]))') == [2, 4]


def test_export_only_at_the_top_level() -> None:
    with pytest.raises(ParseError) as caught:
        Engine().compile("fn f() { export let x = 1; }")
    assert caught.value.kind == "WrongExport"
    with pytest.raises(ParseError) as caught:
        Engine().compile("{ export let x = 1; }")
    assert caught.value.kind == "WrongExport"


# ---- limits ---------------------------------------------------------------------------------

def test_a_module_that_loops_forever_stops_at_the_deadline(tmp_path: Path) -> None:
    folder = write_modules(tmp_path, {"spin.rhai": "loop {}",
                                      "fns.rhai": "fn spin() { loop {} }"})
    engine = Engine(module_dir=folder, max_operations=0, timeout=0.3)
    for script in ('let x = 1;\nimport "spin";', 'import "fns" as f;\nf::spin()'):
        with pytest.raises(LimitError) as caught:
            engine.eval(script)
        assert caught.value.limit == "timeout"
        assert caught.value.line == 2  # reported at the import / the call
    assert engine.eval("1 + 1") == 2


def test_module_code_counts_against_the_runs_operations(tmp_path: Path) -> None:
    folder = write_modules(tmp_path, {
        "work.rhai": "fn count(k) { let s = 0; for i in 0..k { s += i; } s }",
        "heavy.rhai": "let s = 0; for i in 0..5000 { s += i; } export s;"})
    engine = Engine(module_dir=folder, max_operations=20_000)
    assert engine.eval('import "work" as w; w::count(3000)') == 4498500
    with pytest.raises(LimitError) as caught:  # each call is within the limit, all are not
        engine.eval('import "work" as w; for n in 0..10 { w::count(3000); }')
    assert caught.value.limit == "max_operations"
    with pytest.raises(LimitError) as caught:
        engine.eval('for i in 0..16000 { } import "heavy" as h;')
    assert caught.value.limit == "max_operations"


def test_module_files_are_held_to_the_compile_limits(tmp_path: Path) -> None:
    folder = write_modules(tmp_path, {
        "big.rhai": "export let s = \"" + "x" * 3000 + "\";",
        "many_tokens.rhai": "export let a = [" + "1, " * 600 + "];",
        "many_fns.rhai": "".join(f"fn f{i}() {{ {i} }}\n" for i in range(12))})
    engine = Engine(module_dir=folder, max_script_size=2000, max_ast_size=1000,
                    max_functions=10)
    for name, limit in [("big", "max_script_size"), ("many_tokens", "max_ast_size"),
                        ("many_fns", "max_functions")]:
        with pytest.raises(LimitError) as caught:
            engine.eval(f'import "{name}" as m;')
        assert caught.value.limit == limit


def test_a_long_chain_of_modules_stops_at_the_call_levels(tmp_path: Path) -> None:
    folder = write_modules(tmp_path, {f"m{i}.rhai": f'import "m{i + 1}" as n;'
                                      for i in range(80)})
    (folder / "m80.rhai").write_text("export let end = true;")
    with pytest.raises(LimitError) as caught:
        Engine(module_dir=folder, max_call_levels=64).eval('import "m0" as m;')
    assert caught.value.limit == "max_call_levels"
    assert Engine(module_dir=folder, max_call_levels=100).eval('import "m0" as m; 1') == 1


def test_rhais_module_script_runs_with_its_folder_as_the_module_folder(tmp_path: Path) -> None:
    """Rhai's ``scripts/module.rhai`` imports ``scripts/loop.rhai`` (both in the corpus): run
    with their folder as the module folder it prints the loop's lines, then the exported
    ``x`` (the value at the end of the loop) as ``foo``."""
    corpus = Path(__file__).parent / "rhai_corpus" / "cases.jsonl"
    cases = {case["rule"]: case for case in map(json.loads, corpus.read_text().splitlines())}
    folder = write_modules(tmp_path, {"loop.rhai": cases["scripts/loop.rhai"]["script"]})
    printed: list[str] = []
    Engine(module_dir=folder, on_print=printed.append).eval(
        cases["scripts/module.rhai"]["script"])
    assert printed == cases["scripts/loop.rhai"]["oracle"]["print"] + ["Module test! foo = 0"]


def test_command_line_takes_a_modules_folder(folder: Path, tmp_path: Path) -> None:
    def run_cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "worker.engine", *args],
                              cwd=Path(__file__).resolve().parent.parent, capture_output=True,
                              text=True, timeout=60)

    done = run_cli("--modules-dir", str(folder), "-e", 'import "a" as a; a::af()')
    assert (done.returncode, done.stdout) == (0, "42\n")
    done = run_cli("--modules-dir", str(tmp_path / "missing"), "-e", "1")
    assert done.returncode == 2 and "not a directory" in done.stderr
    assert "Traceback" not in done.stderr
