"""worker/optional.py: a library loads without optional modules the programs never use, and
those modules import normally afterwards. Each check runs in a fresh interpreter (clean
``sys.modules``)."""
from __future__ import annotations

import subprocess
import sys


def run(code: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    return done.stdout.split()


def test_a_hidden_module_cannot_be_imported_inside_the_block_only() -> None:
    assert run("from worker.optional import without\n"
               "with without('colorsys'):\n"
               "    try:\n"
               "        import colorsys\n"
               "        print('imported')\n"
               "    except ImportError:\n"
               "        print('absent')\n"
               "import colorsys\n"
               "print(colorsys.__name__)\n") == ["absent", "colorsys"]


def test_a_module_already_imported_stays_visible() -> None:
    assert run("import json\n"
               "from worker.optional import without\n"
               "with without('colorsys'):\n"
               "    import json as again\n"
               "print(again is json)\n") == ["True"]


def test_the_server_loads_tornado_without_its_terminal_colour_modules() -> None:
    assert run("import sys, wsserver.app, tornado.log\n"
               "print('curses' in sys.modules, 'colorama' in sys.modules, tornado.log.curses)\n"
               "import curses\n"
               "print(curses.__name__)\n") == ["False", "False", "None", "curses"]
