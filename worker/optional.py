"""Loading a library without the optional modules it would only use elsewhere.

Some libraries import a module only in case it is there (``try: import x`` / ``except
ImportError: x = None``) and work fully without it. When a circle's program never uses what
such a module adds, it still pays for it at every start and in resident memory. ``without``
makes those modules look absent while the library loads, so the library takes its own path for
"not installed". It is the one place the programs touch ``sys.modules``; each use says which
modules, what they cost and why they are not needed.
"""
from __future__ import annotations

import contextlib
import sys
from typing import Iterator


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
