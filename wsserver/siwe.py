"""Sign-In with Ethereum (EIP-4361): build, parse and check the message a wallet signs.

A small strict parser of the EIP-4361 ABNF (no dependency; see docs/PROTOCOL.md for why not the
``siwe`` package). Pure functions: the caller supplies the clock, the allowed domains and the
nonce check; the signature itself is ``wsserver.auth``'s job.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

from worker.identity import checksum_address, excerpt, parse_address

HEADER_SUFFIX = " wants you to sign in with your Ethereum account:"
MAX_MESSAGE_LENGTH = 8192
"""Characters a SIWE message may have; real ones are a few hundred."""

_SCHEME = r"[A-Za-z][A-Za-z0-9+\-.]*"
_AUTHORITY = r"[A-Za-z0-9\-._~%!$&'()*+,;=:@\[\]]+"
_HEADER = re.compile(rf"(?:({_SCHEME})://)?({_AUTHORITY}){re.escape(HEADER_SUFFIX)}")
_STATEMENT = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;= ]*")
_URI = re.compile(rf"{_SCHEME}:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*")
_NONCE = re.compile(r"[A-Za-z0-9]{8,}")
_CHAIN_ID = re.compile(r"[0-9]{1,20}")
_REQUEST_ID = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@%]*")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_DATE_TIME = re.compile(
    r"(\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
_OPTIONAL_FIELDS = ("Expiration Time", "Not Before", "Request ID")


class SiweError(ValueError):
    """A message that is not a well-formed EIP-4361 message, or one this server must refuse."""


@dataclass(frozen=True)
class SiweMessage:
    """The fields of an EIP-4361 message; ``address`` lowercase, times as unix seconds."""

    domain: str
    address: str
    statement: str | None
    uri: str
    version: str
    chain_id: int
    nonce: str
    issued_at: float
    expiration_time: float | None = None
    not_before: float | None = None
    request_id: str | None = None
    resources: tuple[str, ...] = ()
    scheme: str | None = None


def format_time(unix_seconds: float) -> str:
    """RFC 3339 UTC time as EIP-4361 wants it, e.g. ``2026-12-02T13:40:00Z``."""
    return datetime.fromtimestamp(int(unix_seconds), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(field: str, text: str) -> float:
    match = _DATE_TIME.fullmatch(text)
    if match is None:
        raise SiweError(f"{field} is not an RFC 3339 date-time: {excerpt(text)}")
    whole, fraction, zone = match.groups()
    fraction = (fraction or "")[:7]
    zone = "+00:00" if zone in ("Z", "z") else zone
    try:
        return datetime.fromisoformat(f"{whole.upper()}{fraction}{zone}").timestamp()
    except ValueError:
        raise SiweError(f"{field} is not a valid date-time: {excerpt(text)}") from None


def safe_statement(text: str) -> str:
    """``text`` with every character EIP-4361 does not allow in a statement replaced by ``?``."""
    return "".join(ch if _STATEMENT.fullmatch(ch) else "?" for ch in text)


def build_message(domain: str, address: str, statement: str, uri: str, nonce: str,
                  issued_at: float, expiration_time: float | None = None,
                  chain_id: int = 1) -> str:
    """An EIP-4361 message (version 1) ready to ``personal_sign``; the address is EIP-55 cased."""
    lines = [f"{domain}{HEADER_SUFFIX}", checksum_address(address), "", safe_statement(statement),
             "", f"URI: {uri}", "Version: 1", f"Chain ID: {chain_id}", f"Nonce: {nonce}",
             f"Issued At: {format_time(issued_at)}"]
    if expiration_time is not None:
        lines.append(f"Expiration Time: {format_time(expiration_time)}")
    return "\n".join(lines)


def _tagged(lines: list[str], index: int, tag: str) -> str:
    prefix = f"{tag}: "
    if index >= len(lines) or not lines[index].startswith(prefix):
        found = excerpt(lines[index]) if index < len(lines) else "the end of the message"
        raise SiweError(f"line {index + 1} must be '{prefix}...', found {found}")
    return lines[index][len(prefix):]


def _is_hex_address(text: str) -> bool:
    return _ADDRESS.fullmatch(text) is not None


def parse_message(text: str) -> SiweMessage:
    """Parse an EIP-4361 message strictly (LF line ends, fields in the ABNF's order).

    One leniency: a message without a statement may have one blank line before ``URI:`` instead
    of two, as some client libraries write it. Raises ``SiweError`` naming the line at fault.
    """
    if not isinstance(text, str):
        raise SiweError("message must be a string")
    if len(text) > MAX_MESSAGE_LENGTH:
        raise SiweError(f"message is longer than {MAX_MESSAGE_LENGTH} characters")
    lines = text.split("\n")
    header = _HEADER.fullmatch(lines[0])
    if header is None:
        raise SiweError(f"line 1 must be '<domain>{HEADER_SUFFIX}', found {excerpt(lines[0])}")
    scheme, domain = header.groups()
    if len(lines) < 4:
        raise SiweError("message is too short for EIP-4361")
    address_text = lines[1]
    if not _is_hex_address(address_text) or address_text != checksum_address(address_text):
        raise SiweError(f"line 2 must be an EIP-55 checksummed address, found {excerpt(address_text)}")
    if lines[2] != "":
        raise SiweError("line 3 must be empty")
    index, statement = 3, None
    if lines[3] == "":
        index = 4
    elif not lines[3].startswith("URI: "):
        statement = lines[3]
        if not _STATEMENT.fullmatch(statement):
            raise SiweError(f"line 4 (the statement) has characters EIP-4361 does not allow: "
                            f"{excerpt(statement)}")
        if len(lines) < 5 or lines[4] != "":
            raise SiweError("line 5 must be empty (after the statement)")
        index = 5
    uri = _tagged(lines, index, "URI")
    if not _URI.fullmatch(uri):
        raise SiweError(f"URI is not a URI: {excerpt(uri)}")
    version = _tagged(lines, index + 1, "Version")
    if version != "1":
        raise SiweError(f"Version must be 1, got {excerpt(version)}")
    chain_id = _tagged(lines, index + 2, "Chain ID")
    if not _CHAIN_ID.fullmatch(chain_id):
        raise SiweError(f"Chain ID must be a whole number, got {excerpt(chain_id)}")
    nonce = _tagged(lines, index + 3, "Nonce")
    if not _NONCE.fullmatch(nonce):
        raise SiweError(f"Nonce must be at least 8 letters or digits, got {excerpt(nonce)}")
    issued_at = _parse_time("Issued At", _tagged(lines, index + 4, "Issued At"))
    optional: dict[str, str] = {}
    position = index + 5
    for tag in _OPTIONAL_FIELDS:
        if position < len(lines) and lines[position].startswith(f"{tag}: "):
            optional[tag] = _tagged(lines, position, tag)
            position += 1
    resources: list[str] = []
    if position < len(lines) and lines[position] == "Resources:":
        position += 1
        while position < len(lines) and lines[position].startswith("- "):
            resource = lines[position][2:]
            if not _URI.fullmatch(resource):
                raise SiweError(f"resource on line {position + 1} is not a URI: {excerpt(resource)}")
            resources.append(resource)
            position += 1
    if position != len(lines):
        raise SiweError(f"unexpected line {position + 1}: {excerpt(lines[position])}")
    request_id = optional.get("Request ID")
    if request_id is not None and not _REQUEST_ID.fullmatch(request_id):
        raise SiweError(f"Request ID has characters EIP-4361 does not allow: {excerpt(request_id)}")
    return SiweMessage(
        domain=domain, address=parse_address(address_text), statement=statement, uri=uri,
        version=version, chain_id=int(chain_id), nonce=nonce, issued_at=issued_at,
        expiration_time=(_parse_time("Expiration Time", optional["Expiration Time"])
                         if "Expiration Time" in optional else None),
        not_before=(_parse_time("Not Before", optional["Not Before"])
                    if "Not Before" in optional else None),
        request_id=request_id, resources=tuple(resources), scheme=scheme)


def check_message(message: SiweMessage, allowed_domains: frozenset[str] | set[str],
                  now: float) -> None:
    """Refuse (``SiweError``) a message for another site or outside its validity window.

    ``allowed_domains`` are lowercase authorities (``host[:port]``); the message's domain is
    compared case-insensitively.
    """
    if message.domain.lower() not in allowed_domains:
        raise SiweError(f"domain {excerpt(message.domain)} is not this circle's "
                        f"(allowed: {', '.join(sorted(allowed_domains)) or 'none'})")
    if message.expiration_time is not None and now >= message.expiration_time:
        raise SiweError(f"message expired at {format_time(message.expiration_time)}")
    if message.not_before is not None and now < message.not_before:
        raise SiweError(f"message is not valid before {format_time(message.not_before)}")
