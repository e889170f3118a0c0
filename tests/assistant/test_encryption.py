"""AES-256-GCM with key ids: rotation, tampering, values bound to their place."""

import base64
import os
import stat

import pytest

from bilingual_assistant.encryption import Keyring, keyring_from, new_key_entry
from bilingual_assistant.errors import ConfigurationError


def key(n):
    return bytes([n]) * 32


def test_sealed_values_open_with_the_same_keyring_and_hide_the_text():
    ring = Keyring([("k1", key(1))])
    sealed = ring.seal("明天北京 canary-42".encode(), b"alice")
    assert sealed.startswith("aesgcm1:k1:") and "canary" not in sealed
    assert ring.open(sealed, b"alice").decode() == "明天北京 canary-42"
    assert ring.seal(b"x", b"alice") != ring.seal(b"x", b"alice")  # fresh nonce each time


def test_rotation_new_writes_use_the_new_key_old_values_still_open():
    old = Keyring([("k1", key(1))])
    sealed_before = old.seal(b"before", b"alice")
    rotated = Keyring([("k2", key(2)), ("k1", key(1))])
    assert rotated.seal(b"after", b"alice").startswith("aesgcm1:k2:")
    assert rotated.open(sealed_before, b"alice") == b"before"
    retired = Keyring([("k2", key(2))])
    with pytest.raises(ConfigurationError, match="key 'k1'.*add it back"):
        retired.open(sealed_before, b"alice")


def test_a_changed_or_moved_value_does_not_open():
    ring = Keyring([("k1", key(1))])
    sealed = ring.seal(b"secret", b"alice")
    with pytest.raises(ValueError):
        ring.open(sealed, b"bob")  # moved to another conversation
    prefix, key_id, body = sealed.split(":")
    raw = bytearray(base64.b64decode(body))
    raw[-1] ^= 1
    with pytest.raises(ValueError):
        ring.open(f"{prefix}:{key_id}:{base64.b64encode(bytes(raw)).decode()}", b"alice")


@pytest.mark.parametrize("text, says", [
    ("", "at least one key"),
    ("k1:" + base64.b64encode(b"short").decode(), "needs 32"),
    ("k1:not base64!", "not base64"),
    ("bad id!:" + base64.b64encode(key(1)).decode(), "letters, digits"),
])
def test_bad_keys_are_refused_with_the_fix(text, says):
    with pytest.raises(ConfigurationError, match=says):
        Keyring.parse(text)


def test_keys_come_from_the_setting_or_a_key_file_made_once(tmp_path):
    entry = new_key_entry("main")
    ring, origin = keyring_from(entry, tmp_path / "unused.keys")
    assert ring.current == "main" and origin == "CONVERSATION_KEYS"
    assert not (tmp_path / "unused.keys").exists()
    path = tmp_path / "keys" / "conversation.keys"
    first, _ = keyring_from("", path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again, _ = keyring_from("", path)
    assert again.open(first.seal(b"x")) == b"x"  # the same key, not a new one


def test_processes_starting_together_agree_on_one_key_file(tmp_path):
    """Rasa and the API may both create the key file on a first `make run`."""
    import concurrent.futures

    from bilingual_assistant.encryption import keyring_from

    key_file = tmp_path / "keys" / "conversation.keys"
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        rings = list(pool.map(lambda _: keyring_from("", key_file)[0], range(16)))
    assert len({ring.current for ring in rings}) == 1
    sealed = rings[0].seal(b"x")
    assert all(ring.open(sealed) == b"x" for ring in rings)
    assert sorted(p.name for p in key_file.parent.iterdir()) == ["conversation.keys"]
