"""`python -m apps.rasa_server RASA_SCRIPT run [ARGS...]` (scripts/rasa-run.sh):
runs Rasa's console script in this process with `--auth-token` from
RASA_AUTH_TOKEN added to its arguments here, not on the command line."""

from __future__ import annotations

import runpy
import sys

from bilingual_assistant.config import RasaServerSettings, load


def main() -> None:
    """Hands the arguments, and the token, to the console script `sys.argv[1]`."""
    script, *arguments = sys.argv[1:]
    token = load(RasaServerSettings).auth_token
    # --auth-token=VALUE: a token may start with "-" (token_urlsafe does, one time in
    # 64), which argparse takes for an option when it is a separate argument.
    sys.argv = [script, *arguments, *([f"--auth-token={token}"] if token else [])]
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
