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


def test_the_server_keeps_pickle_without_its_c_accelerator_and_pickle_still_works() -> None:
    assert run("import sys, wsserver.__main__, wsserver.app, pickle\n"
               "print('_pickle' in sys.modules, pickle.Pickler is pickle._Pickler,\n"
               "      pickle.loads(pickle.dumps({'a': [1, 2.5]})) == {'a': [1, 2.5]})\n") == [
        "False", "True", "True"]


def test_a_deferred_module_loads_at_its_first_attribute_read_through_any_binding() -> None:
    assert run("import sys\n"
               "from worker.optional import deferred\n"
               "deferred('colorsys')\n"
               "import colorsys\n"
               "from colorsys import rgb_to_hls\n"  # a from-import reads an attribute: loads
               "import colorsys as again\n"
               "print(type(colorsys).__name__, type(sys.modules['colorsys']).__name__,\n"
               "      again is sys.modules['colorsys'], rgb_to_hls is colorsys.rgb_to_hls,\n"
               "      colorsys.hls_to_rgb is again.hls_to_rgb)\n") == [
        "_StandIn", "module", "True", "True", "True"]


def test_a_deferred_module_is_not_loaded_until_used() -> None:
    assert run("import sys\n"
               "from worker.optional import deferred\n"
               "deferred('colorsys')\n"
               "import colorsys\n"
               "print(type(sys.modules['colorsys']).__name__)\n") == ["_StandIn"]


def test_the_worker_defers_inspect_and_traceback_and_still_logs_exceptions() -> None:
    done = subprocess.run(
        [sys.executable, "-c",
         "import worker.__main__\n"  # first, as `python -m worker` runs it
         "import sys, logging, worker.runner\n"
         "from worker.engine import Engine\n"
         "print(Engine().eval('let a = [1, 2].map(|x| x * 2); `${a}`'))\n"
         "print(sorted(name for name in ('ast', 'dis', 'linecache', 'tokenize')"
         " if name in sys.modules))\n"
         "logging.basicConfig()\n"
         "try:\n"
         "    1 / 0\n"
         "except ZeroDivisionError:\n"
         "    logging.getLogger('worker').exception('a task failed')\n"],
        capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == ["[2, 4]", "[]"]
    assert "Traceback (most recent call last)" in done.stderr
    assert "ZeroDivisionError: division by zero" in done.stderr
