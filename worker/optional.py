"""Loading a library without the modules it would only use elsewhere.

Some libraries import a module only in case it is there (``try: import x`` / ``except
ImportError: x = None``) and work fully without it. When a circle's program never uses what
such a module adds, it still pays for it at every start and in resident memory. ``without``
makes those modules look absent while the library loads, so the library takes its own path for
"not installed". Others import a module unconditionally but use it only on a path a program
rarely or never takes; ``deferred`` lets them bind a stand-in that loads the real module at its
first use. This is the one place the programs touch ``sys.modules``; each use says which
modules, what they cost and why they are not needed.
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.machinery
import sys
import types
from typing import Any, Iterator


@contextlib.contextmanager
def without(*names: str) -> Iterator[None]:
    """Inside the block, ``import name`` raises ImportError for each of ``names`` that is not
    imported yet (a ``None`` entry in ``sys.modules`` is the import system's "absent"); after
    it, they import normally again. A module already imported stays visible: its cost is paid."""
    hidden = [name for name in names if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


class _StandIn(types.ModuleType):
    """Takes a module's place in ``sys.modules`` until one of its attributes is read; the first
    read imports the real module (which then replaces the stand-in there), and every read,
    that one included, is answered from the real module."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        # ``import name`` looks at the spec of a module it finds in sys.modules (to wait for a
        # module still initializing); the stand-in is complete, so it never waits.
        self.__spec__ = importlib.machinery.ModuleSpec(name, None)

    def __getattr__(self, attribute: str) -> Any:
        name = self.__name__
        if sys.modules.get(name) is self:
            del sys.modules[name]
        return getattr(importlib.import_module(name), attribute)


def deferred(*names: str) -> None:
    """From now on, ``import name`` binds a stand-in for each of ``names`` that is not imported
    yet: the real module loads at the first read of any of its attributes, through whichever
    binding. A module already imported stays as it is: its cost is paid."""
    for name in names:
        if name not in sys.modules:
            sys.modules[name] = _StandIn(name)
