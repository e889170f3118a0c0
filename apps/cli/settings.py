"""The settings as this environment sees them.

    python -m apps.cli.settings            every setting, its value and default; exit 2 if
                                           one is invalid (secrets show only "(set)")
    python -m apps.cli.settings get NAME…  shell assignments of effective values
    python -m apps.cli.settings env-example
                                           `.env.example`: every setting, commented out
    python -m apps.cli.settings pth [NAME=VALUE …]
                                           a `.pth` line that gives every process of a
                                           Python environment the project's defaults
"""

from __future__ import annotations

import shlex
import sys
from typing import Dict, List, Optional, Sequence, Text

from apps.entrypoint import run
from bilingual_assistant.config import (
    PROCESS_DEFAULTS,
    RasaSettings,
    entries,
    env_example,
    load_settings,
    masked,
)


def show() -> int:
    """Prints every setting; a bad value ends the program through `run`."""
    rows = [(e.env, masked(e.value, e.secret), e.default) for e in entries(load_settings())]
    width = max(len(env) for env, _, _ in rows)
    for env, value, default in rows:
        print(f"{env:<{width}}  {value or '(unset)'}    [default: {default}]")
    return 0


def get(names: Sequence[Text]) -> int:
    """Prints `NAME=value` for each name, quoted for a shell; secrets included."""
    values = {e.env: e.value for e in entries(load_settings())}
    unknown = [name for name in names if name not in values]
    if unknown:
        print(f"error: not a setting: {', '.join(unknown)}", file=sys.stderr)
        return 2
    for name in names:
        value = values[name]
        print(f"{name}={shlex.quote('' if value is None else str(value))}")
    return 0


def pth(assignments: Sequence[Text]) -> int:
    """Prints one line of Python for a `.pth` file: defaults for every process.

    Third-party variables (no telemetry, no hub downloads), the defaults of the
    variables Rasa reads from `endpoints.yml` (it fails on an unset one), and the
    given `NAME=VALUE` pairs. Variables already set are left alone.
    """
    defaults: Dict[Text, Text] = dict(PROCESS_DEFAULTS)
    rasa = RasaSettings()
    defaults["ACTION_SERVER_URL"] = rasa.action_server_url
    defaults["ACTION_SERVER_TOKEN"] = ""
    for assignment in assignments:
        name, _, value = assignment.partition("=")
        defaults[name] = value
    pairs = ", ".join(f"({k!r}, {v!r})" for k, v in defaults.items())
    print(f"import os; [os.environ.setdefault(k, v) for k, v in ({pairs},)]")
    return 0


def main(argv: Optional[List[Text]] = None) -> int:
    """Dispatches to `show`, `get`, `env-example` or `pth`."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        return show()
    command, rest = args[0], args[1:]
    if command == "get" and rest:
        return get(rest)
    if command == "pth":
        return pth(rest)
    if command == "env-example" and not rest:
        sys.stdout.write(env_example())
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    run(main)
