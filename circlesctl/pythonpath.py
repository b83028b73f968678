"""How the circle programs' Python starts: without ``site``, on the import path ``start`` resolved.

Every Python start runs the ``site`` module, which lists site-packages and executes each ``.pth``
file in it (editable-install finders, other tools' start-up hooks). On the 2-core machine of
docs/BENCHMARKS.md that was more than half the CPU of a bare ``python -c pass``, and ``start``
launches 2N programs at once. So ``start`` resolves once the path its own interpreter imports
from (``current_import_path``), records it in tree.json, and every program starts with ``-S``
and that path as PYTHONPATH. A path supervisord's config cannot carry (a quote, a backslash,
the path separator, ...) leaves the programs on ``site``, as before.
"""
from __future__ import annotations

import importlib.util
import os
import sys
import sysconfig
from typing import Collection, Sequence

from .render import ini_environment

PROGRAM_PACKAGES = ("worker", "wsserver")
"""The packages the programs run (``python -m worker``, ``python -m wsserver``)."""


def resolve_import_path(search_path: Sequence[str], package_roots: Sequence[str],
                        interpreter_path: Collection[str]) -> tuple[str, ...] | None:
    """The PYTHONPATH that lets ``python -S`` import what ``search_path`` imports (pure).

    ``package_roots`` (the folders holding the programs' packages, which an editable install
    finds through a ``.pth`` hook, not a path entry) come first, then ``search_path`` without
    its first entry (the script's folder or the working directory: the programs have their own),
    without entries the interpreter has anyway (``interpreter_path``: the standard library) and
    without duplicates. None when an entry holds the path separator or supervisord's config
    cannot carry it (``render.ini_environment``'s rule).
    """
    entries: list[str] = []
    for entry in [*package_roots, *search_path[1:]]:
        if entry and entry not in interpreter_path and entry not in entries:
            entries.append(entry)
    if any(os.pathsep in entry for entry in entries):
        return None
    try:
        ini_environment(python_environment(entries))
    except ValueError:
        return None
    return tuple(entries)


def installed_package_roots() -> list[str] | None:
    """The folders this interpreter imports the programs' packages from; None if one is
    missing."""
    roots = []
    for package in PROGRAM_PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            return None
        roots.append(os.path.dirname(os.path.abspath(spec.submodule_search_locations[0])))
    return roots


def current_import_path(package_roots: Sequence[str] | None = None) -> tuple[str, ...] | None:
    """``resolve_import_path`` for this interpreter: what circlesctl itself imports from, with
    the programs' packages from ``package_roots`` (by default ``installed_package_roots``; the
    benchmarks pass their copy of the project)."""
    roots = installed_package_roots() if package_roots is None else list(package_roots)
    if roots is None:
        return None
    search_path = sys.path[:1] + [entry for entry in sys.path[1:] if os.path.isdir(entry)]
    stdlib = {sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib")}
    standard = stdlib | {os.path.join(folder, "lib-dynload") for folder in stdlib}
    return resolve_import_path(search_path, roots, standard)


def python_command(python: str, import_path: Sequence[str] | None) -> list[str]:
    """The interpreter part of a program's command line: ``python -S`` when it has a path."""
    return [python, "-S"] if import_path else [python]


def python_environment(import_path: Sequence[str] | None) -> dict[str, str]:
    """The environment the programs need for ``python_command``: PYTHONPATH, or nothing."""
    return {"PYTHONPATH": os.pathsep.join(import_path)} if import_path else {}
