"""Limits on compiling a script (the top-level script and every ``eval`` string): source size,
AST size, number of functions, and the run's deadline, so a compile bomb ends with a limit error
instead of seconds of CPU and gigabytes of memory.

The AST size is counted as the script's tokens (interpolated ``${...}`` parts included): every
syntax-tree node comes from at least one token, and compile time and memory grow with them.
"""
from __future__ import annotations

import time

from .errors import LimitError

DEADLINE_EVERY = 64  # statements parsed between two looks at the clock
TOKENS_PER_CLOCK_LOOK = 1024  # tokens lexed between two looks at the clock (a power of two)


def timed_out(timeout: float) -> LimitError:
    return LimitError("timeout", f"Script timed out after {timeout} seconds (timeout)",
                      kind="ErrorTerminated")


class CompileBudget:
    """What one compilation may use; ``0`` means unlimited (``deadline`` is a monotonic time)."""

    def __init__(self, max_script_size: int = 0, max_ast_size: int = 0, max_functions: int = 0,
                 deadline: float = 0.0, timeout: float = 0.0) -> None:
        self.max_script_size = max_script_size
        self.max_ast_size = max_ast_size
        self.max_functions = max_functions
        self.deadline = deadline
        self.timeout = timeout
        self.functions = 0
        self.tokens = 0
        self.steps = 0

    def fork(self) -> "CompileBudget":
        """A budget in this one's state, for a trial that may be abandoned (see shapes.py)."""
        trial = CompileBudget(self.max_script_size, self.max_ast_size, self.max_functions,
                              self.deadline, self.timeout)
        trial.functions, trial.tokens, trial.steps = self.functions, self.tokens, self.steps
        return trial

    def check_source(self, source: str) -> None:
        """Before lexing: the source's UTF-8 size against ``max_script_size``."""
        limit = self.max_script_size
        if limit and len(source) > limit // 4 and \
                len(source.encode("utf-8", "surrogatepass")) > limit:
            raise LimitError("max_script_size", f"Script is too large: over {limit} bytes "
                             "(max_script_size)", kind="ErrorDataTooLarge")
        self.check_deadline()

    def add_token(self) -> None:
        """One more token lexed (the AST size) against ``max_ast_size``; the clock is looked
        at every ``TOKENS_PER_CLOCK_LOOK`` tokens."""
        self.tokens += 1
        if self.tokens & (TOKENS_PER_CLOCK_LOOK - 1) == 0:
            self.check_deadline()
        if self.tokens > self.max_ast_size > 0:
            raise LimitError("max_ast_size", "Script is too large: over "
                             f"{self.max_ast_size} tokens (max_ast_size)",
                             kind="ErrorDataTooLarge")

    def token_room(self) -> int:
        """How many tokens may be counted with a plain ``tokens += n`` (``n`` below the room)
        before ``add_token`` must count one for its checks (the next look at the clock, or
        ``max_ast_size`` exceeded): the lexer counts in a local variable and still stops at
        the same token."""
        room = (self.tokens | (TOKENS_PER_CLOCK_LOOK - 1)) + 1 - self.tokens
        if self.max_ast_size > 0:
            room = min(room, self.max_ast_size + 1 - self.tokens)
        return room

    def add_function(self) -> None:
        """One more function or closure defined (Rhai's ``max_functions`` counts both)."""
        self.functions += 1
        if self.max_functions and self.functions > self.max_functions:
            raise LimitError("max_functions", "Number of functions defined exceeds maximum "
                             f"limit of {self.max_functions} (max_functions)",
                             kind="TooManyFunctions")

    def step(self) -> None:
        """One statement parsed: look at the clock every ``DEADLINE_EVERY`` statements."""
        self.steps += 1
        if self.steps % DEADLINE_EVERY == 0:
            self.check_deadline()

    def check_deadline(self) -> None:
        if self.deadline and time.monotonic() > self.deadline:
            raise timed_out(self.timeout)

