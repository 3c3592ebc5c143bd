"""Encryption of the payloads Temporal stores, and the codec server the Web UI decodes them with.

``codec.aes`` holds the payload codec every client and worker uses when ``PAYLOAD_CODEC_KEYS`` is
set (``worker.data_converter``); ``codec.server`` serves Temporal's remote codec protocol
(``python -m codec``). See docs/encryption.md.
"""

from codec.aes import CodecError, CodecKeyError, EncryptionCodec, parse_keys

__all__ = ["CodecError", "CodecKeyError", "EncryptionCodec", "parse_keys"]
