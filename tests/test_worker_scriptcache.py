"""The worker's compile cache: a text is kept from its second compile on, least recently used
out first, long texts and invalid scripts never (worker.scriptcache, with the real engine)."""
from __future__ import annotations

import pytest

from worker.engine import CompiledScript, Engine, ParseError
from worker.scriptcache import SEEN_PER_KEPT, ScriptCache


class CountingEngine:
    """A real engine whose compiles are counted per text."""

    def __init__(self) -> None:
        self.engine = Engine()
        self.compiles: dict[str, int] = {}

    def compile(self, text: str) -> CompiledScript:
        self.compiles[text] = self.compiles.get(text, 0) + 1
        return self.engine.compile(text)


@pytest.fixture
def counting() -> CountingEngine:
    return CountingEngine()


def test_a_text_is_kept_from_its_second_compile(counting: CountingEngine) -> None:
    cache = ScriptCache(counting.compile, 4, 1000)
    first = cache.compiled("40 + 2")
    second = cache.compiled("40 + 2")
    assert first is not second
    assert len(cache) == 1
    for _ in range(3):
        assert cache.compiled("40 + 2") is second
    assert counting.compiles == {"40 + 2": 2}
    assert counting.engine.eval(second) == 42


def test_texts_seen_once_are_not_kept(counting: CountingEngine) -> None:
    cache = ScriptCache(counting.compile, 4, 1000)
    for n in range(20):
        cache.compiled(f"{n} + 1")
    assert len(cache) == 0
    assert all(count == 1 for count in counting.compiles.values())


def test_the_least_recently_used_script_goes_first(counting: CountingEngine) -> None:
    cache = ScriptCache(counting.compile, 2, 1000)
    for text in ("1", "2", "1", "2"):
        cache.compiled(text)
    cache.compiled("1")  # now "2" is the least recently used
    for _ in range(2):
        cache.compiled("3")
    assert len(cache) == 2
    cache.compiled("1")
    cache.compiled("2")
    assert counting.compiles == {"1": 2, "2": 3, "3": 2}


def test_long_texts_are_never_kept(counting: CountingEngine) -> None:
    cache = ScriptCache(counting.compile, 4, 10)
    text = "1 + 1 + 1 + 1"
    for _ in range(3):
        assert counting.engine.eval(cache.compiled(text)) == 4
    assert len(cache) == 0
    assert counting.compiles == {text: 3}


def test_invalid_scripts_raise_every_time(counting: CountingEngine) -> None:
    cache = ScriptCache(counting.compile, 4, 1000)
    for _ in range(3):
        with pytest.raises(ParseError):
            cache.compiled("let = ;")
    assert len(cache) == 0
    assert counting.compiles == {"let = ;": 3}


def test_a_repeated_text_is_kept_among_many_new_ones(counting: CountingEngine) -> None:
    """The memory of once-seen texts is bounded; a text that recurs still gets kept."""
    size = 2
    cache = ScriptCache(counting.compile, size, 1000)
    for n in range(size * SEEN_PER_KEPT * 3):
        cache.compiled(f"{n} * 2")
        cache.compiled("7 * 6")
    assert counting.compiles["7 * 6"] <= 3
    assert len(cache) == 1
