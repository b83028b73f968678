"""The worker's limits as pure rules: the output cap (worker/output.py), the memory backstop's
helpers (worker/memory.py) and the flags that set them (worker/config.py)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from worker import memory
from worker.config import DEFAULT_MAX_OUTPUT_BYTES, parse_args
from worker.output import OutputCollector, cap_reply_texts, cap_text, json_size

PK = "02" + "1f" * 32
MIB = 1 << 20


def reply_size(output: str | None, error: str | None) -> int:
    """Bytes of the worker's reply for a task of the longest id, as the WebSocket carries it."""
    return len(json.dumps({"task_id": "f" * 36, "status": "error", "output": output,
                           "error": error}))


def test_text_within_the_cap_is_kept_whole() -> None:
    assert cap_text("hello", 5) == "hello"
    assert cap_text("", 1) == ""


@pytest.mark.parametrize("text", [
    "x" * 5000,
    "é" * 5000,           # 6 bytes each in the JSON reply
    "\x01" * 5000,        # control characters: 6 bytes each
    "😀" * 5000,          # outside the BMP: a surrogate pair, 12 bytes
    "ab\n\"\\" * 2000,
])
def test_cut_output_fits_the_cap_ends_with_the_mark_and_keeps_whole_characters(text: str) -> None:
    capped = cap_text(text, 1000)
    kept, mark = capped.rsplit("\n", 1)
    assert mark == "[output truncated: over 1000 bytes]"
    assert json_size(capped) <= 1000
    assert text.startswith(kept)
    assert json_size(text[:len(kept) + 1] + "\n" + mark) > 1000  # nothing more would fit


def test_tiny_cap_leaves_just_the_mark() -> None:
    assert cap_text("x" * 100, 10) == "[output truncated: over 10 bytes]"


def test_output_and_error_share_the_cap_and_the_error_keeps_at_most_half() -> None:
    output, error = cap_reply_texts("o" * 5000, "e" * 5000, 1000)
    assert json_size(output) + json_size(error) <= 1000
    assert error.startswith("e") and json_size(error) <= 500
    assert cap_reply_texts("out", "short error", 1000) == ("out", "short error")
    assert cap_reply_texts(None, "e", 1000) == (None, "e")


def test_default_cap_keeps_the_worst_reply_within_one_websocket_message() -> None:
    worst = "\x01" * (2 * MIB)  # 6 bytes per character once JSON-escaped
    output, error = cap_reply_texts(worst, worst, DEFAULT_MAX_OUTPUT_BYTES)
    assert reply_size(output, error) < MIB - 60 * 1024  # room left for JSON-RPC framing


def test_collector_stops_keeping_lines_past_its_budget() -> None:
    collector = OutputCollector(100)
    for _ in range(10_000):
        collector.print("0123456789")
    assert len(collector.lines) <= 11
    assert collector.text("value").endswith("\nvalue")
    collector.reset()
    assert collector.text() == ""


def test_recycle_threshold_is_half_the_limit_and_never_when_off() -> None:
    assert memory.over_recycle_threshold(257 * MIB, 512)
    assert not memory.over_recycle_threshold(256 * MIB, 512)
    assert not memory.over_recycle_threshold(10_000 * MIB, 0)


def test_resident_size_is_read_from_proc() -> None:
    assert 1 * MIB < memory.resident_bytes() < 100_000 * MIB


def test_peak_resident_size_bounds_the_resident_size() -> None:
    """The worker reads the peak first and the resident size only when the peak (plus the
    kernel's lag) is over the threshold: that sum is never below the resident size."""
    grown = bytearray(64 * MIB)
    resident = memory.resident_bytes()
    assert memory.peak_resident_bytes() + memory.PEAK_LAG >= resident > 64 * MIB
    del grown


def test_resident_size_follows_the_process_as_it_grows() -> None:
    """The file stays open between reads; each read still sees the size of the moment."""
    before = memory.resident_bytes()
    ballast = bytearray(64 * MIB)  # zero-filled: every page touched
    assert memory.resident_bytes() > before + 32 * MIB
    del ballast


def test_memory_errors_are_recognised_behind_the_errors_raised_for_them() -> None:
    try:
        try:
            raise MemoryError
        except MemoryError:
            raise ValueError("converted") from None
    except ValueError as exc:
        assert memory.caused_by_memory_error(exc)
    assert not memory.caused_by_memory_error(ValueError("plain"))


def test_data_memory_cap_turns_a_big_allocation_into_memory_error() -> None:
    code = ("from worker.memory import cap_data_memory\n"
            "cap_data_memory(128)\n"
            "try:\n    b = bytearray(300 << 20)\nexcept MemoryError:\n    print('refused')\n"
            "print(len(bytearray(1 << 20)))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.split() == ["refused", str(MIB)], done.stderr


def test_new_flags_and_their_defaults(tmp_path: Path) -> None:
    base = ["--name", "c", "--public-key", PK, "--data-dir", str(tmp_path)]
    config = parse_args(base, {})
    assert (config.max_memory_mb, config.max_attempts) == (512, 2)
    assert config.max_output_bytes == DEFAULT_MAX_OUTPUT_BYTES == MIB - 64 * 1024
    config = parse_args([*base, "--max-memory-mb", "0", "--max-attempts", "1"], {})
    assert (config.max_memory_mb, config.max_attempts) == (0, 1)


@pytest.mark.parametrize("args, message", [
    (["--max-memory-mb", "64"], "argument --max-memory-mb: '64' is too small: 0 (no limit) or "
                                "at least 128"),
    (["--max-memory-mb", "-1"], "argument --max-memory-mb: '-1' must not be negative"),
    (["--max-attempts", "0"], "argument --max-attempts: '0' must be at least 1"),
])
def test_bad_limit_flags_exit_2_naming_the_flag(tmp_path: Path, args: list[str],
                                                message: str) -> None:
    command = [sys.executable, "-m", "worker", "--name", "c", "--public-key", PK,
               "--data-dir", str(tmp_path / "d"), *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
