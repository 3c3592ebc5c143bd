"""AES-256-GCM payload encryption: what Temporal stores is ciphertext, keyed by a key id.

Each payload is replaced by one whose ``data`` is ``nonce (12 bytes) || AES-GCM(original payload
proto)`` and whose metadata says ``encoding: binary/encrypted`` and ``encryption-key-id: ID``. The
whole original payload (its metadata too, e.g. ``encoding: json/plain``) is encrypted, and the key
id is bound to the ciphertext as associated data, so changing a byte of either is detected.

Keys come as ``ID:BASE64KEY,ID2:BASE64KEY2`` (``PAYLOAD_CODEC_KEYS``): the first encrypts, all of
them decrypt. Rotation is therefore "put the new key first, keep the old ones" until nothing
encrypted with an old key is retained. Payloads that are not marked encrypted pass through
``decode`` unchanged, so histories written before a key was set still read.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Iterable, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
"""``encoding`` metadata of an encrypted payload."""
KEY_ID_METADATA = "encryption-key-id"
"""Metadata naming the key a payload was encrypted with."""
NONCE_BYTES = 12
KEY_BYTES = 32
KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,32}")
KEYS_FORMAT = "KEY_ID:BASE64KEY[,KEY_ID:BASE64KEY...]"


class CodecKeyError(ValueError):
    """``PAYLOAD_CODEC_KEYS`` is malformed; the message names the problem."""


class CodecError(ValueError):
    """A payload cannot be decrypted (unknown key id, altered or truncated ciphertext)."""


def _decode_key(key_id: str, text: str) -> bytes:
    # Standard (openssl rand -base64 32) or URL-safe alphabet; padding may be left out.
    cleaned = text.strip().replace("-", "+").replace("_", "/")
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        key = base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        raise CodecKeyError(f"key {key_id!r} is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise CodecKeyError(
            f"key {key_id!r} is {len(key)} bytes; AES-256 needs {KEY_BYTES} "
            "(make one with: openssl rand -base64 32)"
        )
    return key


def parse_keys(spec: str, *, name: str = "PAYLOAD_CODEC_KEYS") -> dict[str, bytes]:
    """``ID:BASE64KEY,...`` to an ordered ``{id: key}`` (the first one encrypts).

    Raises ``CodecKeyError`` naming the setting and the problem; never with key material in it.
    """
    try:
        return _parse_keys(spec)
    except CodecKeyError as err:
        raise CodecKeyError(f"{name}: {err}") from None


def _parse_keys(spec: str) -> dict[str, bytes]:
    keys: dict[str, bytes] = {}
    for position, entry in enumerate(spec.split(","), start=1):
        entry = entry.strip()
        if not entry:
            continue
        key_id, sep, key_text = entry.partition(":")
        key_id = key_id.strip()
        if not sep:
            raise CodecKeyError(f"entry {position} has no key id: write {KEYS_FORMAT}")
        if not KEY_ID_PATTERN.fullmatch(key_id):
            # The id is not echoed: a key pasted in the wrong place must not reach a log.
            raise CodecKeyError(
                f"entry {position}: the key id must be 1-32 characters of A-Z a-z 0-9 _ - "
                f"(it has {len(key_id)} characters{'' if key_id.isascii() else ', not all ASCII'})"
            )
        if key_id in keys:
            raise CodecKeyError(f"key id {key_id!r} is given twice")
        keys[key_id] = _decode_key(key_id, key_text)
    if not keys:
        raise CodecKeyError(f"no key given: write {KEYS_FORMAT}")
    return keys


def generate_key() -> str:
    """A fresh random key, base64 (what ``python -m codec --new-key`` prints)."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM with a random 96-bit nonce per payload and the key id in the metadata."""

    def __init__(self, keys: dict[str, bytes] | Iterable[tuple[str, bytes]]) -> None:
        ordered = dict(keys)
        if not ordered:
            raise CodecKeyError("EncryptionCodec needs at least one key")
        for key_id, key in ordered.items():
            if not KEY_ID_PATTERN.fullmatch(key_id):
                raise CodecKeyError(f"key id {key_id!r} must be 1-32 characters of A-Z a-z 0-9 _ -")
            if len(key) != KEY_BYTES:
                raise CodecKeyError(f"key {key_id!r} is {len(key)} bytes; AES-256 needs {KEY_BYTES}")
        self._ciphers = {key_id: AESGCM(key) for key_id, key in ordered.items()}
        self.key_id = next(iter(ordered))
        """The id of the key that encrypts (the first one)."""

    @classmethod
    def from_spec(cls, spec: str) -> EncryptionCodec:
        """From ``PAYLOAD_CODEC_KEYS`` text (``ID:BASE64KEY,...``)."""
        return cls(parse_keys(spec))

    @property
    def key_ids(self) -> list[str]:
        return list(self._ciphers)

    def encrypt(self, payload: Payload) -> Payload:
        nonce = os.urandom(NONCE_BYTES)
        aad = self.key_id.encode()
        sealed = self._ciphers[self.key_id].encrypt(nonce, payload.SerializeToString(), aad)
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID_METADATA: aad},
            data=nonce + sealed,
        )

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # written before encryption was switched on, or not ours to decrypt
        raw_id = payload.metadata.get(KEY_ID_METADATA)
        if raw_id is None:
            raise CodecError(f"encrypted payload has no {KEY_ID_METADATA!r} metadata")
        key_id = raw_id.decode(errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise CodecError(
                f"payload was encrypted with key id {key_id!r}, which is not in PAYLOAD_CODEC_KEYS "
                f"(known: {', '.join(self._ciphers)}); add that key back to decrypt it"
            )
        data = payload.data
        if len(data) < NONCE_BYTES + 16:
            raise CodecError(f"encrypted payload (key id {key_id!r}) is truncated")
        try:
            plain = cipher.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], raw_id)
        except InvalidTag:
            raise CodecError(
                f"payload encrypted with key id {key_id!r} failed authentication: "
                "it was altered, or the key with that id is not the one it was encrypted with"
            ) from None
        try:
            return Payload.FromString(plain)
        except DecodeError as err:  # authentic, so only a bug on the encrypting side gets here
            raise CodecError(f"decrypted payload (key id {key_id!r}) is not a payload: {err}") from None

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]
