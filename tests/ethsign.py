"""eth_account for the tests, imported without its side effect on the whole test process.

Importing eth_account loads py_ecc, which raises Python's recursion limit to 100000 for
everyone; the engine's deep-nesting tests (in the same pytest process) rely on the default limit
turning runaway recursion into RecursionError. So the limit is put back right after the import.
"""
from __future__ import annotations

import sys

_LIMIT = sys.getrecursionlimit()
from eth_account import Account  # noqa: E402
from eth_account.messages import encode_defunct  # noqa: E402
from eth_account.signers.local import LocalAccount  # noqa: E402

sys.setrecursionlimit(_LIMIT)

__all__ = ["Account", "LocalAccount", "encode_defunct"]
