"""Conversations at rest (Rasa's environment: it uses Rasa's tracker store).

    python -m apps.cli.conversations forget SENDER_ID   delete one conversation
    python -m apps.cli.conversations forget-person SUBJECT
                                                        delete every conversation of
                                                        one person (`oidc:…`, `key:…`)
    python -m apps.cli.conversations new-key [ID]       print a fresh key entry
    python -m apps.cli.conversations reseal             re-encrypt every event with
                                                        the current key (rotation)

Rotating: put the new entry first in CONVERSATION_KEYS (or the key file), keep
the old one after it, restart Rasa, run `reseal`, then drop the old key.
"""

from __future__ import annotations

import sys
from typing import List, Optional, Text

from apps.entrypoint import run
from bilingual_assistant.encryption import new_key_entry


def main(argv: Optional[List[Text]] = None) -> int:
    """Dispatches to `forget`, `new-key` or `reseal`."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["new-key"] and len(args) <= 2:
        print(new_key_entry(args[1] if len(args) == 2 else None))
        return 0
    if args[:1] == ["forget"] and len(args) == 2:
        from stores.tracker_store import EncryptedSQLTrackerStore

        deleted = EncryptedSQLTrackerStore().forget(args[1])
        print(f"Deleted conversation {args[1]!r}: {deleted} events.")
        return 0 if deleted else 1
    if args[:1] == ["forget-person"] and len(args) == 2:
        from stores.tracker_store import EncryptedSQLTrackerStore

        conversations, events = EncryptedSQLTrackerStore().forget_person(args[1])
        print(f"Deleted {conversations} conversation(s) of {args[1]!r}: {events} events.")
        return 0
    if args == ["reseal"]:
        from stores.tracker_store import EncryptedSQLTrackerStore

        store = EncryptedSQLTrackerStore()
        print(f"Re-encrypted {store.reseal()} events with key {store.keyring.current!r}.")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    run(main)
