"""Writes the channels of credentials.yml that are configured to another file.

    python -m apps.cli.credentials credentials.yml .run/credentials.yml

Rasa starts every channel listed in its credentials file and fails on a channel
whose token is empty, so a deployment without Slack or Telegram secrets would not
start. `${VARIABLES}` are left for Rasa to fill in; channels with an unset
variable are left out with a note on standard error.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Text, Tuple

import yaml

from apps.entrypoint import run
from bilingual_assistant.config import is_set

_ENV_REFERENCE = re.compile(r"\$\{([^}]+)\}")


def active_credentials(
    credentials: Dict[Text, Any], is_configured: Callable[[Text], bool] = is_set
) -> Tuple[Dict[Text, Any], List[Text]]:
    """Keeps the channels whose `${VARIABLES}` are all set.

    Args:
        credentials: the parsed credentials file.
        is_configured: whether a variable is set (the process environment's).

    Returns:
        The channels to start, and the names of the channels left out.
    """
    active: Dict[Text, Any] = {}
    skipped: List[Text] = []
    for channel, config in (credentials or {}).items():
        references = _ENV_REFERENCE.findall(repr(config)) if config else []
        if all(is_configured(name) for name in references):
            active[channel] = config
        else:
            skipped.append(channel)
    return active, skipped


def main(argv: Optional[Sequence[Text]] = None) -> int:
    """Reads the source file, writes the filtered file."""
    args = list(sys.argv[1:] if argv is None else argv)
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
    run(main)
