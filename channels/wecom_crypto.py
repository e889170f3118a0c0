"""WeCom's (企业微信) callback encryption: the `msg_signature` check and the AES
encryption of callback messages, as WeCom's WXBizMsgCrypt samples define them.

- Signature: SHA-1 of the sorted, concatenated token, timestamp, nonce and
  ciphertext, in hex.
- Ciphertext: base64 of AES-256-CBC (key: the 43-character EncodingAESKey + "=",
  base64-decoded; IV: the key's first 16 bytes) over 16 random bytes, the
  message's length (4 bytes, big-endian), the message, and the receiver's id
  (the CorpID), PKCS#7-padded to a multiple of 32 bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from typing import Optional, Text

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bilingual_assistant.errors import ConfigurationError, InputError

BLOCK = 32  # WeCom pads to 32 bytes, not AES's 16


class CallbackError(InputError):
    """A callback that is not WeCom's: wrong signature, or a ciphertext that does not
    decrypt to a message for this company."""


# How far a callback's signed timestamp may be from now (WeCom resends within
# seconds; Slack allows five minutes for the same reason).
MAX_AGE_SECONDS = 300


def signature(token: Text, timestamp: Text, nonce: Text, encrypted: Text) -> Text:
    """WeCom's `msg_signature`."""
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode()
                        ).hexdigest()


def aes_key(encoding_aes_key: Text) -> bytes:
    """The 32-byte key, or a ConfigurationError that says what is wrong."""
    if len(encoding_aes_key) != 43:
        raise ConfigurationError(
            "wecom: the EncodingAESKey has 43 characters (WECOM_ENCODING_AES_KEY); copy it "
            "from the application's API receive settings.")
    try:
        return base64.b64decode(encoding_aes_key + "=")
    except binascii.Error:
        raise ConfigurationError("wecom: the EncodingAESKey is not base64 "
                                 "(WECOM_ENCODING_AES_KEY).") from None


class WeComCrypto:
    """Checks and opens WeCom's callbacks for one application."""

    def __init__(self, token: Text, encoding_aes_key: Text, receiver_id: Text) -> None:
        self.token, self.receiver_id = token, receiver_id
        self.key = aes_key(encoding_aes_key)

    def check(self, msg_signature: Text, timestamp: Text, nonce: Text, encrypted: Text) -> None:
        """Raises CallbackError unless the signature is right."""
        expected = signature(self.token, timestamp, nonce, encrypted)
        if not hmac.compare_digest(expected, msg_signature or ""):
            raise CallbackError("msg_signature does not match")

    def decrypt(self, encrypted: Text) -> Text:
        """The message inside a ciphertext addressed to this receiver."""
        try:
            data = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError):
            raise CallbackError("the ciphertext is not base64") from None
        if not data or len(data) % 16:
            raise CallbackError("the ciphertext is not whole AES blocks")
        decryptor = Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16])).decryptor()
        plain = decryptor.update(data) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= BLOCK or plain[-pad:] != bytes([pad]) * pad:
            raise CallbackError("the ciphertext's padding is wrong")
        plain = plain[:-pad]
        if len(plain) < 20:
            raise CallbackError("the ciphertext is too short")
        (length,) = struct.unpack(">I", plain[16:20])
        message, receiver = plain[20:20 + length], plain[20 + length:]
        if len(message) != length:
            raise CallbackError("the message length is wrong")
        if receiver.decode("utf-8", "replace") != self.receiver_id:
            raise CallbackError("the message is for another company (CorpID)")
        try:
            return message.decode("utf-8")
        except UnicodeDecodeError:
            raise CallbackError("the message is not UTF-8") from None

    def open(self, msg_signature: Text, timestamp: Text, nonce: Text, encrypted: Text,
             now: Optional[float] = None) -> Text:
        """Checks the signature and, given `now`, that the callback was signed within
        `MAX_AGE_SECONDS` (a recorded callback replayed later is refused), then
        decrypts."""
        self.check(msg_signature, timestamp, nonce, encrypted)
        if now is not None:
            try:
                signed_at = int(timestamp)
            except ValueError:
                raise CallbackError("the timestamp is not a number") from None
            if abs(now - signed_at) > MAX_AGE_SECONDS:
                raise CallbackError("the signature's timestamp is too old or in the future")
        return self.decrypt(encrypted)
