"""Hostile scripts (issue #7): every script of ``bench.hostile``'s catalogue runs in a fresh
subprocess and must end with the limit it attacks, within timeout + max(0.25 s, 5 %) (wall time
measured in the child around ``eval``; the slack is divided by the share of a core the child got,
so a machine busy with other work does not fail it, while a deadline that is checked too rarely
still does), with peak memory growth under 300 MB (``VmHWM`` from the child's own
``/proc/self/status``).

Scripts are stopped by operation and size limits where the issue allows; those the deadline
alone must stop run with ``max_operations=0``. Children run two at a time, once for the suite.
"""
from __future__ import annotations

import pytest

from bench.hostile import CASES, MEMORY_BOUND_MB, outcome_of, run_cases

RESULTS: dict[str, dict] = {}


@pytest.fixture(scope="module")
def results() -> dict[str, dict]:
    """Run the whole catalogue once (two children at a time) and index the outcomes."""
    if not RESULTS:
        RESULTS.update((r["name"], r) for r in run_cases(CASES, jobs=2))
    return RESULTS


def test_the_catalogue_has_at_least_40_scripts() -> None:
    assert len(CASES) >= 40
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_script_hits_its_limit_in_time_and_memory(case, results) -> None:
    result = results[case.name]
    assert outcome_of(result) == case.expect, result
    assert case.expect.split(":")[0] in result["message"] or \
        case.expect.startswith("ParseError"), result  # the message names the limit
    assert result["wall"] <= case.allowed_wall(result), (
        f"{case.name} ran {result['wall']:.2f} s with {result['cpu_share']:.2f} of a core, "
        f"allowed {case.allowed_wall(result):.2f} s "
        f"(timeout {case.timeout} s)")
    assert result["growth_mb"] < MEMORY_BOUND_MB, result


def test_bench_hostile_prints_each_script_against_its_limit() -> None:
    import subprocess
    import sys

    from bench.common import PROJECT_ROOT, python_env

    done = subprocess.run([sys.executable, "-m", "bench.hostile", "--only",
                           "array-literal,empty-loop-deadline"], cwd=str(PROJECT_ROOT),
                          env=python_env(), capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "| script | limit expected | ended with | wall s | CPU share | allowed s | " \
        "peak growth MB |" in done.stdout
    assert "| array-literal | max_array_size | max_array_size |" in done.stdout
    assert "| empty-loop-deadline | timeout | timeout |" in done.stdout
    row = next(line for line in done.stdout.splitlines() if line.startswith("| empty-loop-"))
    share, allowed = (float(cell) for cell in row.split("|")[5:7])
    # the bound is 1 s + 0.25 s / CPU share; both are printed rounded to 2 decimals
    low_share, high_share = (max(min(share + step, 1.0), 0.02) for step in (0.005, -0.005))
    assert 1 + 0.25 / low_share - 0.006 <= allowed <= 1 + 0.25 / high_share + 0.006
    assert "2 of 2 scripts ended as expected within bounds" in done.stdout
