"""Rhai modules: ``import "path" as m;`` loads ``path.rhai`` from one folder, ``m::x`` and
``m::f(..)`` reach what it exports.

The rules are Rhai's (``src/module/resolvers/file.rs``, ``Module::eval_ast_as_new`` in
``src/module/mod.rs``, ``Stmt::Import`` in ``src/eval/stmt.rs``), with the resolver restricted
to its folder: absolute paths, ``..`` and symlinks leading out of it are refused. A module file
is compiled once per engine (again when the file changes) and evaluated once per run that
imports it, against that run's limits; runs share no module state.
"""
from __future__ import annotations

import os
from pathlib import PurePosixPath
from typing import Any, Callable

from .budget import CompileBudget
from .corefns import not_found
from .errors import EvalError, RhaiError, wrapped_error
from .runtime import Runtime
from .values import type_name

EXTENSION = ".rhai"  # Rhai's FileModuleResolver forces this extension on every path
LOCATED_PATHS = 1024  # import paths a run remembers the file of (see RunModules.load)


def module_not_found(path: str, reason: str = "") -> EvalError:
    """Rhai's ``ErrorModuleNotFound``; ``reason`` says why a path was refused."""
    return EvalError(f"Module not found: {path}{f' ({reason})' if reason else ''}",
                     kind="ErrorModuleNotFound", fields={"module": path})


def in_module(exc: RhaiError, path: str) -> RhaiError:
    """Rhai's ``ErrorInModule``: an error while compiling or running a module's script; a
    thrown value stays what ``catch`` gets (Rhai's ``unwrap_inner``)."""
    return wrapped_error(exc, f"{exc}\nin module '{path}'", "ErrorInModule", {"module": path})


class Module:
    """What a module script leaves: its exported variables (constants to the importer), its
    non-private functions, and the modules its top level imported (sub-modules)."""

    __slots__ = ("variables", "functions", "submodules")

    def __init__(self, variables: dict[str, Any], functions: dict[tuple[str, int], Callable],
                 submodules: dict[str, "Module"]) -> None:
        self.variables = variables
        self.functions = functions
        self.submodules = submodules


def exported_variables(exports: list[tuple[int, str, Callable[[], Any]]]) -> dict[str, Any]:
    """The module's variables from its executed ``export``s, each (declaration order, alias,
    the variable's value at the end of the script). Rhai walks the scope from its last
    variable back and the first variable found with an alias keeps it."""
    variables: dict[str, Any] = {}
    for _, alias, value in sorted(exports, key=lambda export: -export[0]):
        if alias not in variables:
            variables[alias] = value()
    return variables


class ModuleResolver:
    """Finds module files inside one folder and compiles each once (again when it changes)."""

    def __init__(self, folder: str | os.PathLike) -> None:
        if not os.path.isdir(folder):
            raise ValueError(f"module_dir is not a directory: {str(folder)!r}")
        self.root = os.path.realpath(folder)
        self.cache: dict[str, tuple[tuple, Any]] = {}

    def locate(self, path: str, importer: str | None) -> str:
        """The real path of the file ``import path`` names: Rhai's ``get_file_path`` with no
        base path, run from the folder (a relative path is resolved against the folder of the
        importing module's own import path; the extension is replaced by ``.rhai``), refusing
        every path that is absolute, has a ``..`` part or leads out of the folder."""
        if not path or "\0" in path:
            raise module_not_found(path, "not a module path")
        wanted = PurePosixPath(path)
        if wanted.is_absolute() or ".." in wanted.parts:
            raise module_not_found(path, "outside the modules folder")
        if importer is not None:
            wanted = PurePosixPath(importer).parent / wanted
        if not wanted.name or wanted.name == ".":
            raise module_not_found(path, "not a module path")
        candidate = os.path.realpath(os.path.join(self.root, wanted.with_suffix(EXTENSION)))
        if not candidate.startswith(self.root + os.sep):
            raise module_not_found(path, "outside the modules folder")
        if not os.path.isfile(candidate):
            raise module_not_found(path)
        return candidate

    def script(self, file: str, path: str, max_script_size: int,
               compile_source: Callable[[str], Any]) -> Any:
        """The compiled script of ``file``, compiled by ``compile_source`` unless the cached
        one was compiled from the file as it is now (same size, time and inode)."""
        try:
            stat = os.stat(file)
            key = (stat.st_mtime_ns, stat.st_size, stat.st_ino, stat.st_dev)
            cached = self.cache.get(file)
            if cached is not None and cached[0] == key:
                return cached[1]
            with open(file, "rb") as handle:  # never more than the limit allows
                data = handle.read(max_script_size + 1 if max_script_size else -1)
        except OSError:
            raise module_not_found(path) from None
        text = data.decode("utf-8", "replace")
        CompileBudget(max_script_size=max_script_size).check_source(text)
        compiled = compile_source(text)
        self.cache[file] = (key, compiled)
        return compiled


class RunModules:
    """The modules of one run: each file is evaluated once per run, and a module imported
    again while it is still loading (a cycle) is an error instead of endless recursion."""

    def __init__(self, resolver: ModuleResolver | None,
                 evaluate: Callable[[Runtime, int, str, str], Module]) -> None:
        self.resolver = resolver
        self.evaluate = evaluate
        self.loaded: dict[str, Module] = {}
        self.loading: list[tuple[str, str]] = []
        self.located: dict[tuple[str, str | None], str] = {}  # an import in a loop looks once

    def load(self, importer: Runtime, d: int, path: str, source: str | None) -> Module:
        if self.resolver is None:
            raise module_not_found(path)
        file = self.located.get((path, source))
        if file is None:
            if len(self.located) >= LOCATED_PATHS:  # many spellings of a path: memory stays small
                self.located.clear()
            file = self.located[(path, source)] = self.resolver.locate(path, source)
        module = self.loaded.get(file)
        if module is not None:
            return module
        if any(loading == file for loading, _ in self.loading):
            chain = " -> ".join([name for _, name in self.loading] + [path])
            raise EvalError(f"Cyclic import: {chain}", kind="ErrorInModule",
                            fields={"module": path})
        self.loading.append((file, path))
        try:
            module = self.evaluate(importer, d, file, path)
        finally:
            self.loading.pop()
        self.loaded[file] = module
        return module


class ModuleView:
    """The modules one namespace sees: the run's, those its top level imported (which its
    functions see, as in Rhai imports stay visible to the functions called after them), and
    its own import path (None for the script itself)."""

    def __init__(self, run: RunModules, source: str | None = None) -> None:
        self.run = run
        self.source = source
        self.imports: dict[str, Module] = {}

    def for_module(self, source: str) -> "ModuleView":
        """The view of a module script this namespace imports (``source``: its import path)."""
        return ModuleView(self.run, source)

    def for_eval(self) -> "ModuleView":
        """The view of an ``eval`` in this namespace: the modules imported so far."""
        view = ModuleView(self.run, self.source)
        view.imports.update(self.imports)
        return view


class ModuleRuntime(Runtime):
    """The runtime of a module script: its own namespace and countdown, but the operations it
    counts go to the importing run's total (``ledger``), so a module's code, whenever it
    runs, is held to the run's ``max_operations`` (and its deadline)."""

    def __init__(self, importer: Runtime, *args: Any) -> None:
        self.ledger: Runtime = getattr(importer, "ledger", importer)
        spent = self.ledger.total
        super().__init__(*args)
        self.ledger.total = spent  # Runtime.__init__ reset the shared count
        self.deadline = importer.deadline

    @property
    def total(self) -> int:  # type: ignore[override]
        return self.ledger.total

    @total.setter
    def total(self, value: int) -> None:
        self.ledger.total = value


def bindings(rt: Runtime) -> dict[str, Callable]:
    """The names generated code uses for modules: ``_import`` (an ``import`` statement),
    ``_find_module`` (the module of ``m::sub::``), ``_module_var`` (``m::sub::x``) and
    ``_module_call`` (``m::sub::f(..)``)."""

    def import_module(d: int, path: Any, alias: str | None, top: bool) -> Module:
        if type(path) is not str:
            raise EvalError(f"Data type incorrect: {type_name(path)} (expecting string)",
                            kind="ErrorMismatchDataType")
        rt.charge(1)
        view = rt.modules
        module = view.run.load(rt, d, path, view.source)
        if top and alias:
            view.imports[alias] = module
        return module

    def find_module(module: Module | None, root: str, path: tuple[str, ...]) -> Module | None:
        """The module named ``root::path``; None when a sub-module is missing (Rhai then
        reports the variable or function as not found)."""
        if module is None:
            module = rt.modules.imports.get(root)
            if module is None:
                raise module_not_found("::".join((root, *path)))
        for name in path:
            module = module.submodules.get(name)
            if module is None:
                return None
        return module

    def qualified_var(module: Module | None, root: str, path: tuple[str, ...],
                      name: str) -> Any:
        found = find_module(module, root, path)
        if found is None or name not in found.variables:
            qualified = "::".join((root, *path, name))
            raise EvalError(f"Variable not found: {qualified}", kind="ErrorVariableNotFound")
        return rt.copy(found.variables[name])  # a constant: the importer gets its own copy

    def qualified_call(d: int, module: Module | None, qualified: str, name: str,
                       *args: Any) -> Any:
        function = module.functions.get((name, len(args))) if module is not None else None
        if function is None:
            raise not_found(qualified, args)
        return function(d - 1, None, *args)

    return {"_import": import_module, "_find_module": find_module, "_module_var": qualified_var,
            "_module_call": qualified_call}
