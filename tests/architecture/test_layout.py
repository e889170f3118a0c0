"""The project's files agree with its declarations: settings, the README, test environments."""

import re
import subprocess
import sys
from pathlib import Path

from assistant.config import SECTIONS, declarations, markdown_table

ROOT = Path(__file__).resolve().parents[2]
DECLARED = {item.metadata["env"] for s in SECTIONS for item in declarations(s)}


def test_every_variable_rasa_reads_is_declared():
    for name in ("endpoints.yml", "credentials.yml"):
        lines = (ROOT / name).read_text().splitlines()
        text = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
        used = set(re.findall(r"\$\{([A-Z0-9_]+)\}", text))
        assert used and used <= DECLARED, (name, used - DECLARED)


def test_the_readme_holds_the_generated_table():
    assert markdown_table() in (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_settings_tool_prints_shell_assignments():
    result = subprocess.run(
        [sys.executable, "-m", "apps.cli.settings", "get", "ACTION_SERVER_PORT", "LLM_API_KEY"],
        cwd=ROOT, capture_output=True, text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "LLM_API_KEY": "k y"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["ACTION_SERVER_PORT=5055", "LLM_API_KEY='k y'"]


def test_the_settings_tool_refuses_a_bad_value_in_one_line():
    result = subprocess.run(
        [sys.executable, "-m", "apps.cli.settings"], cwd=ROOT, capture_output=True, text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "ANSWER_CACHE_SIZE": "-1"})
    assert result.returncode == 2
    assert result.stderr.startswith("error: ANSWER_CACHE_SIZE must be at least 1")


def test_every_test_file_runs_in_one_environment():
    lines = subprocess.run(["make", "-s", "test-dirs"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.splitlines()
    actions_part, ignored = lines[0].removeprefix("actions: ").split(" ignore: ")
    actions, rasa = actions_part.split(), lines[1].removeprefix("rasa: ").split()

    def under(path, folders):
        return any(path.is_relative_to(ROOT / folder) for folder in folders)

    for path in (ROOT / "tests").rglob("test_*.py"):
        in_actions = under(path, actions) and not under(path, ignored.split())
        assert in_actions != under(path, rasa), path
