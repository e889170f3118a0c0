"""scripts/rasa-run.sh, the one way Rasa is started (make run, the image's
entrypoint, the integration tests), hands Rasa the settings as Rasa's own CLI
parses them."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("token", ["plain-token_123456", "-starts-with-a-dash",
                                   "--two-dashes-and-more"])
def test_the_token_reaches_rasa_whatever_it_starts_with(tmp_path, token):
    # secrets.token_urlsafe starts with "-" one time in 64: a Rasa container failed
    # to start with "argument -t/--auth-token: expected one argument".
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    python = bin_dir / "python"  # the script reads the settings with the env's python
    python.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    rasa = bin_dir / "rasa"  # prints the arguments it was given, and the command line
    rasa.write_text(f"#!{sys.executable}\nimport json, sys\nprint(json.dumps(sys.argv[1:]))\n"
                    "print(open('/proc/self/cmdline').read().replace(chr(0), ' '))\n")
    for path in (python, rasa):
        path.chmod(0o755)
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "RASA_AUTH_TOKEN": token,
           "RASA_CORS_ORIGINS": "https://chat.example.com"}
    result = subprocess.run([str(ROOT / "scripts" / "rasa-run.sh"), str(rasa), "run",
                             "--model", "models/current.tar.gz"], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    from rasa.__main__ import create_argument_parser

    arguments, command_line = result.stdout.splitlines()[:2]
    parsed = create_argument_parser().parse_args(json.loads(arguments))
    assert parsed.auth_token == token
    assert token not in command_line and "apps.rasa_server" in command_line
    assert parsed.enable_api and parsed.interface == "127.0.0.1" and parsed.port == 5005
    assert parsed.cors == ["https://chat.example.com"]
    assert parsed.model == "models/current.tar.gz"


def test_a_setting_that_is_not_valid_stops_the_script_with_its_message(tmp_path):
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "RASA_AUTH_TOKEN": "short"}
    done = subprocess.run([str(ROOT / "scripts" / "rasa-run.sh"), sys.executable.replace(
        "python", "rasa"), "run"], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120)
    assert done.returncode == 2 and "RASA_AUTH_TOKEN has 5 characters" in done.stderr
    assert "unbound variable" not in done.stderr
