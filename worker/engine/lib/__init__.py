"""The Rhai standard library, one module per value kind; ``worker.engine.stdlib`` loads them all.

Each module registers its functions into ``natives.LIBRARY`` with ``@native`` when imported.
"""
