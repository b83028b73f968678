"""``python -m circlesctl``: the same as the ``circlesctl`` command."""
from circlesctl.cli import main

main()
