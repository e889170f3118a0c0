"""AES-256-GCM for data at rest, with key ids so that keys can be rotated.

A sealed value is text: `aesgcm1:<key id>:<base64 of nonce + ciphertext + tag>`.
The first key of a keyring seals; every key in it opens, so after a rotation new
writes use the new key and old values still open. Associated data (the
conversation's id) binds a value to its place: a sealed event moved to another
conversation does not open.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Text, Tuple

from bilingual_assistant.errors import ConfigurationError

PREFIX = "aesgcm1"
KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class Keyring:
    """Named AES-256 keys; the first seals, all open."""

    def __init__(self, keys: Sequence[Tuple[Text, bytes]]) -> None:
        """Args:
        keys: (key id, 32-byte key) pairs, the current key first.

        Raises:
            ConfigurationError: if there is no key, a key is not 32 bytes or an id
                is not 1 to 32 letters, digits, `-` or `_`.
        """
        if not keys:
            raise ConfigurationError("A keyring needs at least one key.")
        for key_id, key in keys:
            if not _KEY_ID.match(key_id):
                raise ConfigurationError(
                    f"Key id {key_id!r} must be 1 to 32 letters, digits, '-' or '_'.")
            if len(key) != KEY_BYTES:
                raise ConfigurationError(
                    f"Key {key_id!r} has {len(key)} bytes; AES-256 needs {KEY_BYTES}.")
        self.current = keys[0][0]
        self._keys: Dict[Text, bytes] = dict(keys)

    @property
    def key_ids(self) -> List[Text]:
        """The ids of the keys, the current one first."""
        return [self.current, *(k for k in self._keys if k != self.current)]

    @classmethod
    def parse(cls, text: Text, where: Text = "the keys") -> Keyring:
        """Reads `id:base64key` entries separated by commas or lines (`#` comments).

        Raises:
            ConfigurationError: naming `where` and the entry that is wrong.
        """
        keys: List[Tuple[Text, bytes]] = []
        lines = (line.split("#", 1)[0] for line in text.splitlines())
        for entry in (e.strip() for line in lines for e in line.split(",")):
            if not entry:
                continue
            key_id, _, encoded = entry.partition(":")
            try:
                key = base64.b64decode(encoded.strip(), validate=True)
            except (binascii.Error, ValueError):
                raise ConfigurationError(
                    f"In {where}, key {key_id.strip()!r} is not base64: write entries as "
                    "`id:base64key` (`python -m apps.cli.conversations new-key` makes one)."
                ) from None
            keys.append((key_id.strip(), key))
        return cls(keys)

    def seal(self, plaintext: bytes, associated: bytes = b"") -> Text:
        """Encrypts with the current key; the result names the key."""
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self._keys[self.current]).encrypt(nonce, plaintext, associated)
        return f"{PREFIX}:{self.current}:{base64.b64encode(nonce + sealed).decode()}"

    def open(self, token: Text, associated: bytes = b"") -> bytes:
        """Decrypts a sealed value with the key it names.

        Raises:
            ConfigurationError: if the key it names is not in the keyring.
            ValueError: if the value is not sealed, was changed, or belongs elsewhere.
        """
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        prefix, key_id, encoded = (token.split(":", 2) + ["", ""])[:3]
        if prefix != PREFIX:
            raise ValueError("not a sealed value")
        key = self._keys.get(key_id)
        if key is None:
            raise ConfigurationError(
                f"A stored value is sealed with key {key_id!r}, which is not among the "
                f"configured keys ({', '.join(self.key_ids)}): add it back to "
                "CONVERSATION_KEYS or the key file.")
        raw = base64.b64decode(encoded)
        try:
            return AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], associated)
        except InvalidTag:
            raise ValueError("the sealed value was changed or belongs elsewhere") from None

    @staticmethod
    def is_sealed(value: Text) -> bool:
        """Whether a stored value is sealed (not legacy plain text)."""
        return value.startswith(PREFIX + ":")


def new_key_entry(key_id: Optional[Text] = None) -> Text:
    """A fresh `id:base64key` entry (the id defaults to a random one)."""
    key_id = key_id or f"k{secrets.token_hex(4)}"
    return f"{key_id}:{base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()}"


def keyring_from(keys: Text, key_file: Path) -> Tuple[Keyring, Text]:
    """The keyring from `keys` if set, else from the key file, created on first use.

    Returns:
        The keyring and where it came from (for the log).

    Raises:
        ConfigurationError: if the keys cannot be read or parsed.
    """
    if keys.strip():
        return Keyring.parse(keys, "CONVERSATION_KEYS"), "CONVERSATION_KEYS"
    if not key_file.exists():
        # Written aside, then linked into place: Rasa and the API may both start
        # first, and neither may read a half-written file or replace the other's.
        key_file.parent.mkdir(parents=True, exist_ok=True)
        draft = key_file.with_name(f".{key_file.name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write("# AES-256 keys for conversations at rest: id:base64key, the "
                         "current one first. Keep old keys to read old rows.\n")
            handle.write(new_key_entry() + "\n")
        try:
            os.link(draft, key_file)
        except FileExistsError:
            pass  # another process made it first: both use that one
        finally:
            os.unlink(draft)
    try:
        text = key_file.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigurationError(
            f"The key file {key_file} cannot be read ({error.strerror}): check "
            "CONVERSATION_KEY_FILE and its permissions.") from error
    return Keyring.parse(text, str(key_file)), str(key_file)
