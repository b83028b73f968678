"""The Rhai standard library of named functions, registered into ``natives.LIBRARY``.

Importing this module loads every ``worker.engine.lib`` module, each of which registers its
functions with ``@native``: strings, chars, arrays, maps (and ``to_json``), numbers, bit fields,
blobs and timestamps. Operators, ``print``/``debug``, ``type_of``, function pointers, ``eval``
and ranges belong to the runtime, not here.
"""
from __future__ import annotations

from .lib import arrays, bits, blobs, chars, maps, numbers, ranges, strings, timestamps
from .lib.common import rhai_equals

__all__ = ["arrays", "bits", "blobs", "chars", "maps", "numbers", "ranges", "strings", "timestamps",
           "rhai_equals"]
