"""The worker's compiled scripts by source text, so a script that repeats is compiled once.

A text is kept only from its second sight on: most tasks of a busy circle either repeat a few
texts (kept after their second run) or are each new (not kept: they would only push the
repeated ones out and fill the heap). Every kept script holds a prepared run of its own
(``Engine.eval``), some two hundred objects that each full garbage collection scans again; a
cache full of one-off scripts made those collections cost about a tenth of a distinct task's CPU,
in pauses of tens of milliseconds.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Generic, TypeVar

Compiled = TypeVar("Compiled")

SEEN_PER_KEPT = 4
"""How many once-seen texts are remembered (by hash) per script the cache keeps."""


class ScriptCache(Generic[Compiled]):
    """Up to ``size`` compiled scripts of at most ``max_chars`` characters, the least recently
    used dropped first, each kept from the second time its text is compiled. ``compile_text``
    turns a text into its compiled script (raising for an invalid one, which is never kept)."""

    def __init__(self, compile_text: Callable[[str], Compiled], size: int,
                 max_chars: int) -> None:
        self._compile = compile_text
        self._size = size
        self._max_chars = max_chars
        self._kept: OrderedDict[str, Compiled] = OrderedDict()
        # hash() of texts compiled once and not kept; a collision only keeps a script early
        self._seen_once: set[int] = set()

    def __len__(self) -> int:
        return len(self._kept)

    def compiled(self, text: str) -> Compiled:
        """``text`` compiled: the kept script, or a new one (kept if the text was seen before)."""
        found = self._kept.get(text)
        if found is not None:
            self._kept.move_to_end(text)
            return found
        compiled = self._compile(text)
        if len(text) <= self._max_chars:
            self._remember(text, compiled)
        return compiled

    def _remember(self, text: str, compiled: Compiled) -> None:
        """Keep ``compiled`` if ``text`` was seen once already, else note that it has been."""
        key = hash(text)
        if key not in self._seen_once:
            if len(self._seen_once) >= self._size * SEEN_PER_KEPT:
                self._seen_once.clear()
            self._seen_once.add(key)
            return
        self._seen_once.discard(key)
        self._kept[text] = compiled
        if len(self._kept) > self._size:
            self._kept.popitem(last=False)
