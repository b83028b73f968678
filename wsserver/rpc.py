"""JSON-RPC 2.0 framing: parse incoming text, bind params, build responses.

Pure functions and constants only; which methods exist and what they do lives in
``wsserver.session``. Error codes are part of the public protocol (docs/PROTOCOL.md).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from worker.identity import excerpt
from worker.jsontext import fast_decoder, fast_encoder

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
EXECUTION_ERROR = -32000
AUTH_REQUIRED = -32001
INVALID_CREDENTIALS = -32002
NOT_AUTHORIZED = -32003
TIMEOUT = -32004
TOO_MANY_REQUESTS = -32005

MESSAGES = {
    PARSE_ERROR: "Parse error",
    INVALID_REQUEST: "Invalid Request",
    METHOD_NOT_FOUND: "Method not found",
    INVALID_PARAMS: "Invalid params",
    INTERNAL_ERROR: "Internal error",
    EXECUTION_ERROR: "Execution Error",
    AUTH_REQUIRED: "Authentication Required",
    INVALID_CREDENTIALS: "Invalid Credentials",
    NOT_AUTHORIZED: "Not Authorized",
    TIMEOUT: "Timeout",
    TOO_MANY_REQUESTS: "Too Many Requests",
}

MAX_BATCH = 50
"""Requests one batch may hold (below the per-connection in-flight limit)."""

NO_ID = object()
"""The ``id`` of a notification (a request without one): no request or ``Invalid`` has it
otherwise, so ``item.id is NO_ID`` tells either apart without a call."""
_encode = fast_encoder(json.JSONEncoder(ensure_ascii=False, allow_nan=False))
"""Raw UTF-8 keeps a large output's answer near its own size, and NaN/Infinity can never be
sent (``worker.jsontext``: the C encoder built once)."""
_decode = fast_decoder(json.JSONDecoder())
"""``json.loads``, its C scanner called directly on a message without surrounding whitespace."""
_PLAIN_ID_TYPES = (str, int, type(None))
"""Types of ids that are valid without a closer look (not bool, a subclass of int)."""


class RpcError(Exception):
    """A JSON-RPC error to send back; ``message`` defaults to the code's standard text."""

    def __init__(self, code: int, data: Any = None, message: str | None = None) -> None:
        self.code = code
        self.message = message or MESSAGES.get(code, "Server error")
        self.data = data
        super().__init__(f"{self.code} {self.message}" + (f": {data}" if data is not None else ""))

    def to_dict(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


@dataclass(frozen=True)
class Request:
    """One well-formed call. ``id`` is absent (``is_notification``) or a str/number/None."""

    method: str
    params: Any
    id: Any = NO_ID

    @property
    def is_notification(self) -> bool:
        return self.id is NO_ID


@dataclass(frozen=True)
class Invalid:
    """A batch element or message that is not a valid request: answer with ``error``."""

    error: RpcError
    id: Any = None


def _valid_id(value: Any) -> bool:
    """str, null or a finite number: NaN and 1e400 (infinity) have no JSON spelling to echo."""
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, str) or (
        isinstance(value, int) and not isinstance(value, bool))


def parse_request(obj: Any) -> Request | Invalid:
    """Validate one decoded request object."""
    if not isinstance(obj, dict):
        return Invalid(RpcError(INVALID_REQUEST, "request must be a JSON object"))
    has_id = "id" in obj
    request_id = obj.get("id")
    if has_id and type(request_id) not in _PLAIN_ID_TYPES and not _valid_id(request_id):
        return Invalid(RpcError(INVALID_REQUEST, "id must be a string, finite number or null"))
    reply_id = request_id if has_id else None
    if obj.get("jsonrpc") != "2.0":
        return Invalid(RpcError(INVALID_REQUEST, 'jsonrpc must be "2.0"'), reply_id)
    method = obj.get("method")
    if not isinstance(method, str):
        return Invalid(RpcError(INVALID_REQUEST, "method must be a string"), reply_id)
    params = obj.get("params", [])
    if not isinstance(params, (list, dict)):
        return Invalid(RpcError(INVALID_REQUEST, "params must be an array or an object"), reply_id)
    return Request(method, params, request_id if has_id else NO_ID)


def parse_message(text: str | bytes) -> tuple[bool, list[Request | Invalid]]:
    """Decode one WebSocket message into ``(is_batch, items)``.

    A message that is not JSON, or an empty or oversized batch, becomes a single ``Invalid``.
    """
    try:
        decoded = _decode(text)
    except (ValueError, RecursionError):
        return False, [Invalid(RpcError(PARSE_ERROR, "message is not valid JSON"))]
    if isinstance(decoded, list):
        if not decoded:
            return False, [Invalid(RpcError(INVALID_REQUEST, "empty batch"))]
        if len(decoded) > MAX_BATCH:
            return False, [Invalid(RpcError(
                INVALID_REQUEST, f"batch of {len(decoded)} requests exceeds the limit of {MAX_BATCH}"))]
        return True, [parse_request(item) for item in decoded]
    return False, [parse_request(decoded)]


def bind_params(names: Sequence[str], params: list[Any] | Mapping[str, Any]) -> dict[str, str]:
    """Map positional or named params onto ``names``; all are required strings.

    Raises ``RpcError(INVALID_PARAMS)`` naming the missing, unexpected or mistyped param.
    """
    if isinstance(params, list):
        if len(params) != len(names):
            raise RpcError(INVALID_PARAMS,
                           f"expected {len(names)} params ({', '.join(names) or 'none'}), "
                           f"got {len(params)}")
        bound = dict(zip(names, params))
    elif params.keys() == set(names):
        bound = dict(params)
    else:
        unexpected = sorted(set(params) - set(names))
        if unexpected:
            raise RpcError(INVALID_PARAMS, f"unexpected param: {excerpt(unexpected[0])}")
        missing = [name for name in names if name not in params]
        raise RpcError(INVALID_PARAMS, f"missing param: {', '.join(missing)}")
    for name, value in bound.items():
        if not isinstance(value, str):
            raise RpcError(INVALID_PARAMS, f"param {name} must be a string")
    return bound


def encode(payload: dict[str, Any] | list[dict[str, Any]]) -> str:
    """The JSON text of one response or batch of responses."""
    return _encode(payload)


def result_response(request_id: Any, result: Any) -> dict[str, Any]:
    """A success response object."""
    return {"jsonrpc": "2.0", "result": result, "id": request_id}


def error_response(request_id: Any, error: RpcError) -> dict[str, Any]:
    """An error response object."""
    return {"jsonrpc": "2.0", "error": error.to_dict(), "id": request_id}
