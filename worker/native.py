"""Finding the C code an installed package ships, without importing the package's Python side.

coincurve and pycryptodome compile their C into extension files inside the package
(``coincurve/_libsecp256k1*.so``, ``Crypto/Hash/_keccak*.so``) that also export the C functions
themselves. A program that needs one or two of those functions can call them through ctypes on
that file and leave the package's Python modules, and what they load (cffi, platform probes),
out of its memory. ``extension_path`` finds the file; the callers bind the functions, check them
on a known answer and keep the package's own API as their fallback.
"""
from __future__ import annotations

import importlib.machinery
import importlib.util
import logging
import os
from typing import Callable, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


def extension_path(package: str, *parts: str) -> str | None:
    """The file of the compiled extension ``package/<parts...>`` (with any suffix this Python
    loads extensions with), found without importing ``package``; None when there is none."""
    spec = importlib.util.find_spec(package)  # a top-level name: nothing is imported
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = os.path.join(folder, *parts) + suffix
            if os.path.isfile(path):
                return path
    return None


def bound(package: str, parts: tuple[str, ...], bind: Callable[[str], T], label: str,
          fallback: T, fallback_label: str) -> tuple[str, T]:
    """(which implementation, the implementation): ``bind(path)`` on the extension
    ``package/<parts>`` (labelled ``label (path)``), or ``fallback`` with a warning when the
    file is missing or ``bind`` fails: it does not load, lacks a function, or gives a wrong
    known answer (OSError, AttributeError, ValueError)."""
    path = extension_path(package, *parts)
    if path is None:
        log.warning("%s's %s extension not found; using %s", package, parts[-1], fallback_label)
        return fallback_label, fallback
    try:
        return f"{label} ({path})", bind(path)
    except (OSError, AttributeError, ValueError) as exc:
        log.warning("cannot call %s (%s); using %s", path, exc, fallback_label)
        return fallback_label, fallback
