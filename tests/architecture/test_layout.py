"""The project's files agree with its declarations: settings, the docs, test environments."""

import re
import subprocess
import sys
from pathlib import Path

from bilingual_assistant.config import SECTIONS, declarations, env_example, markdown_table

ROOT = Path(__file__).resolve().parents[2]
DECLARED = {item.metadata["env"] for s in SECTIONS for item in declarations(s)}


def test_every_variable_rasa_reads_is_declared():
    for name in ("endpoints.yml", "credentials.yml"):
        lines = (ROOT / name).read_text().splitlines()
        text = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
        used = set(re.findall(r"\$\{([A-Z0-9_]+)\}", text))
        assert used and used <= DECLARED, (name, used - DECLARED)


def test_the_settings_reference_holds_the_generated_table():
    page = ROOT / "docs" / "reference" / "settings.md"
    assert markdown_table() in page.read_text(encoding="utf-8")


def test_env_example_lists_every_setting_as_generated():
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    assert text == env_example(), "run `make readme`"
    listed = set(re.findall(r"^# ([A-Z][A-Z0-9_]+)=", text, flags=re.M))
    assert listed == DECLARED


def test_dotenv_fills_only_unset_variables_and_rejects_a_bad_line(tmp_path):
    env_file = tmp_path / "settings.env"
    env_file.write_text('# comment\n\nLLM_MODEL="deepseek-chat"\nexport LLM_QUEUE=3\n'
                        "LLM_API_KEY=from-file\n")
    env_file.chmod(0o600)
    show = 'printf "%s|%s|%s" "$LLM_MODEL" "$LLM_QUEUE" "$LLM_API_KEY"'
    result = subprocess.run(
        [str(ROOT / "scripts" / "dotenv.sh"), "bash", "-c", show], capture_output=True,
        text=True, env={"PATH": "/usr/bin:/bin", "ENV_FILE": str(env_file),
                        "LLM_API_KEY": "from-environment"})
    assert result.returncode == 0, result.stderr
    assert result.stdout == "deepseek-chat|3|from-environment"
    assert result.stderr == ""

    env_file.write_text("LLM_MODEL=x\nnot a setting\n")
    result = subprocess.run([str(ROOT / "scripts" / "dotenv.sh"), "true"], capture_output=True,
                            text=True, env={"PATH": "/usr/bin:/bin", "ENV_FILE": str(env_file)})
    assert result.returncode == 2
    assert "line 2 is not NAME=value" in result.stderr


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


def test_the_architecture_page_and_the_apps_package_name_every_process_and_tool():
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    package = (ROOT / "apps" / "__init__.py").read_text(encoding="utf-8")
    processes = sorted(p.parent.name for p in (ROOT / "apps").glob("*/__main__.py"))
    assert {"action_server", "api", "llm_server", "worker"} <= set(processes)
    for name in processes:
        assert f"`apps/{name}`" in page and f"python -m apps.{name}" in page, name
        assert f"`{name}`" in package, name
    tools = sorted(p.stem for p in (ROOT / "apps" / "cli").glob("*.py")
                   if "def main(" in p.read_text(encoding="utf-8"))
    assert "ingest" in tools
    missing = [tool for tool in tools if f"`{tool}`" not in page]
    assert not missing, f"docs/architecture.md does not name the tools {missing}"


def test_the_pure_library_contract_covers_every_part_of_the_package_but_the_components():
    import configparser

    contracts = configparser.ConfigParser()
    contracts.read(ROOT / ".importlinter")
    sources = set(contracts["importlinter:contract:library-is-pure"]["source_modules"].split())
    package = ROOT / "bilingual_assistant"
    parts = {f"bilingual_assistant.{p.stem if p.is_file() else p.name}"
             for p in package.iterdir()
             if (p.suffix == ".py" and p.name != "__init__.py")
             or (p.is_dir() and (p / "__init__.py").exists())}
    assert "bilingual_assistant.components" in parts
    assert sources == parts - {"bilingual_assistant.components"}
