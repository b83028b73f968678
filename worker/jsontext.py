"""JSON text at C speed with the standard library's own settings, for the per-task and per-play
paths (the worker's replies, the WebSocket server's requests and answers).

``json.dumps``/``JSONEncoder.encode`` build a C encoder per call (with a dict of visited
containers that acyclic data never needs) and ``json.loads`` wraps the C scanner in two
whitespace matches and ``raw_decode``: on small messages that is about half the cost. These
build the C parts once; the text and the errors are the standard library's.
"""
from __future__ import annotations

import json
import json.encoder
import json.scanner
from typing import Any, Callable


def fast_encoder(settings: json.JSONEncoder) -> Callable[[Any], str]:
    """``settings.encode``, with its C encoder built once (for acyclic values)."""
    chunks = json.encoder.c_make_encoder(  # type: ignore[attr-defined]
        None, settings.default,
        (json.encoder.encode_basestring_ascii if settings.ensure_ascii
         else json.encoder.encode_basestring),
        settings.indent, settings.key_separator, settings.item_separator, settings.sort_keys,
        settings.skipkeys, settings.allow_nan)

    def encode(value: Any) -> str:
        return "".join(chunks(value, 0))

    return encode


def fast_decoder(decoder: json.JSONDecoder) -> Callable[[str | bytes], Any]:
    """``decoder``'s ``json.loads``: text with no whitespace around its value is decoded by the
    C scanner in one call; anything else (bytes, whitespace, invalid JSON) as ``json.loads``
    decodes it, with its errors."""
    scan = json.scanner.make_scanner(decoder)  # type: ignore[attr-defined]

    def decode(raw: str | bytes) -> Any:
        if isinstance(raw, str):
            try:
                value, end = scan(raw, 0)
            except StopIteration:  # leading whitespace, or not JSON: decode says which
                end = -1
            if end == len(raw):
                return value
            return decoder.decode(raw)
        return decoder.decode(raw.decode(json.detect_encoding(raw), "surrogatepass"))

    return decode
