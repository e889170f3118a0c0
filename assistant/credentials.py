"""Writes the channels of credentials.yml that are configured to another file.

    python -m assistant.credentials credentials.yml .run/credentials.yml

`${VARIABLES}` are left for Rasa to fill in; channels with an unset variable are
left out with a note on standard error.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional, Text

import yaml

from assistant.settings import active_credentials


def main(argv: Optional[List[Text]] = None) -> int:
    """Reads the source file, writes the filtered file."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    source, target = Path(args[0]), Path(args[1])
    credentials = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    active, skipped = active_credentials(credentials)
    for channel in skipped:
        print(
            f"channel '{channel}' is off: set its variables in {source} to enable it",
            file=sys.stderr,
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(active, allow_unicode=True), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
