"""Circle worker: runs Rhai scripts from a circle's Redis queue.

Kept empty on purpose: the WebSocket server imports ``worker.protocol`` and must not pay for
loading the Rhai engine.
"""
