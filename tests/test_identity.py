"""worker/identity.py: the one rule for public keys and addresses, checked against eth_account and
coincurve (independent implementations)."""
from __future__ import annotations

import random
import subprocess
import sys

import pytest
from coincurve import PrivateKey
from Crypto.Hash import keccak

from ethsign import Account
from worker import identity

KEY = PrivateKey()
COMPRESSED = KEY.public_key.format(compressed=True).hex()
UNCOMPRESSED = KEY.public_key.format(compressed=False).hex()


@pytest.mark.parametrize("spelling", [
    COMPRESSED, COMPRESSED.upper(), "0x" + COMPRESSED, UNCOMPRESSED, "0X" + UNCOMPRESSED,
    UNCOMPRESSED[2:],  # the 64-byte raw x||y form eth_keys / web3.py hand out
    f"  {COMPRESSED}\n",
])
def test_every_spelling_of_a_key_becomes_its_compressed_form(spelling: str) -> None:
    assert identity.parse_public_key(spelling) == COMPRESSED


def test_both_parities_decompress_like_coincurve() -> None:
    for _ in range(20):
        key = PrivateKey().public_key
        assert identity.parse_public_key(key.format(compressed=True).hex()) == key.format().hex()
        assert identity.address_of(key.format().hex()) == identity.address_of(
            key.format(compressed=False).hex())


def hybrid(uncompressed_hex: str) -> str:
    """The 06/07 "hybrid" encoding of a point (prefix 06 + parity of y)."""
    y_parity = int(uncompressed_hex[-2:], 16) % 2
    return f"0{6 + y_parity}" + uncompressed_hex[2:]


@pytest.mark.parametrize("key, reason", [
    ("not-hex", "not hex"),
    ("02" + "11" * 10, "33 or 65 bytes"),
    ("", "33 or 65 bytes"),
    ("05" + "11" * 32, "start 02/03"),
    (hybrid(UNCOMPRESSED), "start 02/03"),
    ("04" + COMPRESSED[2:] + "00" * 32, "not a point"),   # x on the curve, y off it
    ("02" + "ff" * 32, "not a point"),                     # x >= p
    ("02" + "00" * 31 + "05", "not a point"),              # x^3 + 7 not a square
    ("02" + UNCOMPRESSED[2:], "start 02/03"),              # 65 bytes with a compressed prefix
])
def test_malformed_keys_are_refused_with_a_reason(key: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        identity.parse_public_key(key)


def test_error_names_a_huge_value_only_by_a_short_excerpt() -> None:
    with pytest.raises(ValueError) as caught:
        identity.parse_public_key("zz" * 450_000)
    assert len(str(caught.value)) < 140 and "900000 characters" in str(caught.value)


def test_address_of_a_key_is_the_one_eth_account_derives() -> None:
    for _ in range(5):
        account = Account.create()
        public = account._key_obj.public_key  # eth_keys' PublicKey: the raw 64-byte form
        assert identity.address_of(public.to_hex()) == account.address.lower()
        assert identity.checksum_address(account.address.lower()) == account.address


@pytest.mark.parametrize("spelling", ["lower", "upper-body", "checksummed"])
def test_addresses_are_normalised_to_lowercase(spelling: str) -> None:
    address = Account.create().address
    text = {"lower": address.lower(), "upper-body": "0x" + address[2:].upper(),
            "checksummed": address}[spelling]
    assert identity.parse_address(text) == address.lower()


def test_a_typo_in_a_checksummed_address_is_caught() -> None:
    address = Account.create().address
    position = next(i for i, ch in enumerate(address) if i > 1 and ch.isalpha())
    typo = address[:position] + address[position].swapcase() + address[position + 1:]
    with pytest.raises(ValueError, match="checksum"):
        identity.parse_address(typo)


@pytest.mark.parametrize("text", ["0x1234", "ab" * 20, "0x" + "g" * 40, "0x" + "ab" * 21, 5])
def test_malformed_addresses_are_refused(text: object) -> None:
    with pytest.raises(ValueError, match="not an Ethereum address"):
        identity.parse_address(text)  # type: ignore[arg-type]


def test_members_may_be_keys_or_addresses() -> None:
    address = Account.create().address
    assert identity.parse_member(address) == address.lower()
    assert identity.parse_member(UNCOMPRESSED) == COMPRESSED


def test_importing_identity_loads_no_signature_library() -> None:
    done = subprocess.run([sys.executable, "-c", "import sys, worker.identity; "
                           "print('coincurve' in sys.modules)"],
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_keccak256_is_ethereums_hash() -> None:
    assert identity.keccak256(b"").hex() == (
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")
    assert identity.keccak256(b"a" * 300) == keccak.new(digest_bits=256, data=b"a" * 300).digest()


def test_keccak256_calls_the_c_code_without_pycryptodomes_python_modules() -> None:
    code = ("import sys\n"
            "from worker import keccak\n"
            "from worker.identity import keccak256\n"
            "keccak256(b'circle')\n"
            "print(keccak.backend().split()[0], 'cffi' in sys.modules, 'platform' in sys.modules,"
            " any(name.split('.')[0] == 'Crypto' for name in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == ["pycryptodome's", "False", "False", "False"]


def test_keccak256_through_the_c_code_and_pycryptodomes_api_agree() -> None:
    from worker import keccak as ours

    rng = random.Random(12)
    for size in [0, 1, 31, 32, 135, 136, 137, 271, 272, 1000, *rng.sample(range(2000), 20)]:
        data = rng.randbytes(size)
        assert ours.keccak256(data) == ours.pycryptodome_keccak256(data) == keccak.new(
            digest_bits=256, data=data).digest()


def test_the_pycryptodome_fallback_runs_without_cffi_and_leaves_it_importable() -> None:
    # pycryptodome on cffi would parse its C declarations with pycparser (~1.3 MB in the server)
    code = ("import sys\n"
            "from worker.keccak import pycryptodome_keccak256\n"
            "pycryptodome_keccak256(b'circle')\n"
            "from Crypto.Util import _raw_api\n"
            "print(_raw_api.backend, 'pycparser' in sys.modules, 'cffi' in sys.modules)\n"
            "import importlib.util\n"
            "print(importlib.util.find_spec('cffi') is None or __import__('cffi') is not None)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == ["ctypes", "False", "False", "True"]
