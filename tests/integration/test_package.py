"""The components as a package another Rasa project installs: the wheel is built from
pyproject.toml, installed into a fresh environment that sees Rasa 3.6 (the Rasa
environment's site-packages, as a `.pth` line) but not this repository, and a small
project shaped like RasaHQ/rasa-3.x-form-examples (a form that asks for a first and
a last name), whose config.yml names our tokenizer and featurizer, is trained and
tested there with `rasa train` and `rasa test`: no PYTHONPATH, run from a folder
outside the repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path
from typing import Dict

import pytest
import yaml

from tests.integration.conftest import env_python

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]

CONFIG = {
    "recipe": "default.v1",
    "assistant_id": "form-example",
    "language": "en",
    "pipeline": [
        {"name": "bilingual_assistant.components.bilingual_tokenizer.BilingualJiebaTokenizer"},
        {"name": "bilingual_assistant.components.bert_featurizer.BertFeaturizer",
         "model": "multilingual-e5-small", "fine_tune_epochs": 0},
        {"name": "CountVectorsFeaturizer"},
        {"name": "DIETClassifier", "epochs": 150, "random_seed": 1},
    ],
    "policies": [{"name": "MemoizationPolicy"}, {"name": "RulePolicy"}],
}

DOMAIN = {
    "version": "3.1",
    "intents": ["greet", "goodbye", "request_names", "inform"],
    "slots": {
        "first_name": {"type": "text", "influence_conversation": True, "mappings": [
            {"type": "from_text", "conditions": [
                {"active_loop": "name_form", "requested_slot": "first_name"}]}]},
        "last_name": {"type": "text", "influence_conversation": True, "mappings": [
            {"type": "from_text", "conditions": [
                {"active_loop": "name_form", "requested_slot": "last_name"}]}]},
    },
    "forms": {"name_form": {"required_slots": ["first_name", "last_name"]}},
    "responses": {
        "utter_greet": [{"text": "Hello! 你好！"}],
        "utter_goodbye": [{"text": "Bye! 再见！"}],
        "utter_ask_first_name": [{"text": "What is your first name?"}],
        "utter_ask_last_name": [{"text": "So {first_name}, what is your last name?"}],
        "utter_submit_names": [{"text": "I will remember that your name is {first_name} "
                                        "{last_name}!"}],
    },
    "session_config": {"session_expiration_time": 60, "carry_over_slots_to_new_session": True},
}

NLU = {"version": "3.1", "nlu": [
    {"intent": "greet", "examples": "- hey\n- hello\n- hi\n- good morning\n- 你好\n- 早上好\n"
                                    "- 嗨\n- hello there\n"},
    {"intent": "goodbye", "examples": "- bye\n- goodbye\n- see you later\n- 再见\n- 拜拜\n"
                                      "- 回头见\n- good night\n"},
    {"intent": "request_names", "examples": "- I want to give you my name\n"
                                            "- can I tell you my name\n- here is my name\n"
                                            "- 我想告诉你我的名字\n- 记一下我的名字\n"
                                            "- let me give you my name\n- 我要登记名字\n"},
    {"intent": "inform", "examples": "- Vincent\n- Warmerdam\n- Rachel\n- Smith\n- 张伟\n"
                                     "- 李娜\n- my name is Vincent\n- it is Smith\n- 我叫李娜\n"},
]}

RULES = {"version": "3.1", "rules": [
    {"rule": "greet", "steps": [{"intent": "greet"}, {"action": "utter_greet"}]},
    {"rule": "goodbye", "steps": [{"intent": "goodbye"}, {"action": "utter_goodbye"}]},
    {"rule": "activate the form", "steps": [
        {"intent": "request_names"}, {"action": "name_form"}, {"active_loop": "name_form"}]},
    {"rule": "submit the form", "condition": [{"active_loop": "name_form"}], "steps": [
        {"action": "name_form"}, {"active_loop": None},
        {"slot_was_set": [{"requested_slot": None}]},
        {"action": "utter_submit_names"}]},
]}

TEST_STORIES = {"version": "3.1", "stories": [
    {"story": "greet in Chinese and give a name", "steps": [
        {"user": "你好", "intent": "greet"},
        {"action": "utter_greet"},
        {"user": "我想告诉你我的名字", "intent": "request_names"},
        {"action": "name_form"},
        {"active_loop": "name_form"},
        {"slot_was_set": [{"requested_slot": "first_name"}]},
        {"user": "Vincent", "intent": "inform"},
        {"action": "name_form"},
        {"slot_was_set": [{"first_name": "Vincent"}]},
        {"slot_was_set": [{"requested_slot": "last_name"}]},
        {"user": "Warmerdam", "intent": "inform"},
        {"action": "name_form"},
        {"slot_was_set": [{"last_name": "Warmerdam"}]},
        {"slot_was_set": [{"requested_slot": None}]},
        {"active_loop": None},
        {"action": "utter_submit_names"},
        {"user": "再见", "intent": "goodbye"},
        {"action": "utter_goodbye"},
    ]},
    {"story": "hello and goodbye in English", "steps": [
        {"user": "hello there", "intent": "greet"},
        {"action": "utter_greet"},
        {"user": "bye", "intent": "goodbye"},
        {"action": "utter_goodbye"},
    ]},
]}


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (the NLU examples) as YAML block literals, as Rasa writes them."""


_Dumper.add_representer(str, lambda dumper, text: dumper.represent_scalar(
    "tag:yaml.org,2002:str", text, style="|" if "\n" in text else None))


def write_project(folder: Path) -> None:
    files = {"config.yml": CONFIG, "domain.yml": DOMAIN, "data/nlu.yml": NLU,
             "data/rules.yml": RULES, "tests/test_stories.yml": TEST_STORIES}
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.dump(content, Dumper=_Dumper, allow_unicode=True,
                                  sort_keys=False), encoding="utf-8")


def clean_environment(home: Path) -> Dict[str, str]:
    """No PYTHONPATH, nothing of this repository: only what a user's shell has."""
    keep = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TMPDIR")
            if name in os.environ}
    return {**keep, "RASA_TELEMETRY_ENABLED": "false", "HF_HUB_OFFLINE": "1",
            "TF_CPP_MIN_LOG_LEVEL": "2", "MPLCONFIGDIR": str(home / "mpl")}


def test_the_wheel_installs_beside_rasa_and_trains_and_tests_a_form_project(tmp_path):
    # Built as a user would, in the services' environment (setuptools, current
    # `packaging`); Rasa's environment keeps Rasa's older pins.
    # From a copy of what the package is made of, so no build/ or egg-info is left in
    # the repository.
    source = tmp_path / "source"
    for name in ("pyproject.toml", "LICENSE", "docs/reference/package.md"):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "bilingual_assistant", source / "bilingual_assistant",
                    ignore=shutil.ignore_patterns("__pycache__"))
    dist = tmp_path / "dist"
    built = subprocess.run([str(env_python("ACTIONS_PYTHON", "actions-env-path")), "-m", "pip",
                            "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist),
                            str(source)], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-3000:]
    [wheel] = dist.glob("rasa_bilingual_assistant-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        top = {name.split("/")[0] for name in archive.namelist()}
    # One distinctive top-level package: no `components`, `actions`, `apps` or `tests`.
    assert top == {"bilingual_assistant", wheel.name.split("-")[0] + "-0.1.0.dist-info"}

    # A fresh environment that sees Rasa's site-packages (a .pth line), not the project.
    fresh = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(fresh)], check=True)
    python = fresh / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; "
                                "print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "rasa_environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    pip = env_python("ACTIONS_PYTHON", "actions-env-path")
    installed = subprocess.run([str(pip), "-m", "pip", "install", "--no-deps", "-q",
                                "--target", str(site), str(wheel)],
                               capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr[-3000:]

    project = tmp_path / "form-example"
    write_project(project)
    env = clean_environment(tmp_path)
    where = subprocess.run([str(python), "-c", "import bilingual_assistant, rasa; "
                            "print(bilingual_assistant.__file__, bilingual_assistant.__version__)"],
                           cwd=project, env=env, capture_output=True, text=True)
    assert where.returncode == 0, where.stderr[-2000:]
    assert where.stdout.startswith(str(site)) and where.stdout.split()[1] == "0.1.0"

    trained = subprocess.run([str(python), "-m", "rasa", "train", "--fixed-model-name", "form",
                              "--out", "models"], cwd=project, env=env, capture_output=True,
                             text=True, timeout=1200)
    assert trained.returncode == 0, trained.stdout[-3000:] + trained.stderr[-3000:]
    assert (project / "models" / "form.tar.gz").is_file()

    tested = subprocess.run([str(python), "-m", "rasa", "test", "--model", "models/form.tar.gz",
                             "--stories", "tests/test_stories.yml", "--fail-on-prediction-errors",
                             "--out", "results"], cwd=project, env=env, capture_output=True,
                            text=True, timeout=1200)
    assert tested.returncode == 0, tested.stdout[-4000:] + tested.stderr[-3000:]
    failed = (project / "results" / "failed_test_stories.yml").read_text(encoding="utf-8")
    assert "None of the test stories failed" in failed, failed[:2000]
