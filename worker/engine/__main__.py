"""Command line: ``python -m worker.engine [--modules-dir FOLDER] FILE.rhai`` or ``... -e SCRIPT``.

Prints what the script prints, then its result (unless it is ``()``); on error prints the
Rhai error message to stderr and exits with status 1 (no Python traceback).
"""
from __future__ import annotations

import argparse
import sys

from . import Engine, RhaiError, to_display


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m worker.engine",
                                     description="Run a Rhai script in the sandboxed engine.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("file", nargs="?", help="a .rhai script file")
    source.add_argument("-e", "--eval", dest="script", help="script text to run")
    parser.add_argument("--modules-dir", metavar="FOLDER",
                        help="folder the script may import .rhai modules from")
    args = parser.parse_args(argv)
    if args.script is not None:
        text = args.script
    else:
        try:
            with open(args.file, encoding="utf-8") as fh:
                text = fh.read()
        except (OSError, UnicodeDecodeError) as exc:
            print(f"error: cannot read {args.file}: {exc}", file=sys.stderr)
            return 1
    try:
        engine = Engine(on_print=lambda s: print(s, flush=True),
                        on_debug=lambda s: print(s, file=sys.stderr, flush=True),
                        module_dir=args.modules_dir)
    except ValueError as exc:
        print(f"error: --modules-dir: {exc}", file=sys.stderr)
        return 2
    try:
        result = engine.eval(text)
    except RhaiError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if result is not None:
        print(to_display(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
