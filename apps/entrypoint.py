"""How every command-line entry point maps the library's errors to an exit status."""

from __future__ import annotations

import sys
from typing import Callable, NoReturn, Optional

from bilingual_assistant.errors import AssistantError, ServiceError

# 2: the configuration or the input must change; 3: a service is down, try again.
EXIT_BAD_SETTING_OR_INPUT = 2
EXIT_SERVICE_UNAVAILABLE = 3


def exit_status(error: AssistantError) -> int:
    """The exit status for an error of the library's tree."""
    return EXIT_SERVICE_UNAVAILABLE if isinstance(error, ServiceError) else (
        EXIT_BAD_SETTING_OR_INPUT)


def run(main: Callable[[], Optional[int]]) -> NoReturn:
    """Runs `main` and exits with its status; a library error is one line on stderr."""
    try:
        status = main() or 0
    except AssistantError as error:
        print(f"error: {error}", file=sys.stderr)
        status = exit_status(error)
    except KeyboardInterrupt:
        status = 130
    sys.exit(status)
