"""Forgetting a person in the services' tables (the services' environment).

    python -m apps.cli.people forget SUBJECT

SUBJECT is the person as the API knows them: `oidc:<sub>` for someone who signs in,
`key:<id>` for an API key. Deletes their chat turns, feedback, hit tests and
sessions. `make forget WHO=SUBJECT` also deletes their conversations in Rasa's store
(`python -m apps.cli.conversations forget-person`).
"""

from __future__ import annotations

import sys
from typing import List, Optional, Text

from apps.entrypoint import run
from bilingual_assistant.adapters.sql_service_store import SqlPeople, connect
from bilingual_assistant.config import ApiSettings, load


def main(argv: Optional[List[Text]] = None) -> int:
    """Runs `forget SUBJECT`."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2 or args[0] != "forget" or not args[1].strip():
        print(__doc__, file=sys.stderr)
        return 2
    deleted = SqlPeople(connect(load(ApiSettings).db_url)).forget(args[1])
    print(f"Deleted from the services' tables for {args[1]!r}: "
          + ", ".join(f"{table} {count}" for table, count in deleted.items()) + ".")
    return 0


if __name__ == "__main__":
    run(main)
