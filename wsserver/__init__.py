"""One circle's WebSocket JSON-RPC server (``python -m wsserver``) and its Python client.

Map: ``__main__`` command line and signals; ``app`` Tornado handlers and shutdown; ``session``
the RPC methods and per-connection login; ``rpc`` JSON-RPC framing; ``auth`` signatures and
nonces; ``siwe`` Sign-In with Ethereum (EIP-4361) messages; ``origins`` the origin policy and
Host check; ``tasks`` Redis round trips via ``worker.protocol``; ``config`` settings;
``client`` the Python client; ``console`` the browser console (``GET /``, files in
``console/``). Keys and addresses are ``worker.identity``'s. See docs/PROTOCOL.md for the wire
format.
"""
