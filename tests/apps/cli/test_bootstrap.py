"""`python -m apps.cli.bootstrap`, compose's init step: an empty knowledge base
indexed once, the first administrator's key made once (real Milvus Lite file, real
default embedder, a SQLite database)."""

import subprocess
import sys
from pathlib import Path

from bilingual_assistant.access.keys import ApiKeys
from bilingual_assistant.adapters.sql_service_store import SqlKeyStore, connect
from tests.fakes.documents import make_folder

ROOT = Path(__file__).resolve().parents[3]


def bootstrap(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "apps.cli.bootstrap", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)


def test_first_start_indexes_and_makes_one_admin_key_and_a_second_changes_nothing(tmp_path):
    folder = make_folder(tmp_path)
    database = f"sqlite:///{tmp_path / 'api.db'}"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "PYTHONPATH": str(ROOT),
           "HF_HUB_OFFLINE": "1", "MILVUS_LITE_PATH": str(tmp_path / "kb.db"),
           "SERVICES_DB_URL": database}
    first = bootstrap(str(folder), env=env)
    assert first.returncode == 0, first.stderr
    assert "3 added" in first.stdout
    lines = first.stdout.splitlines()
    token = lines[lines.index("The first administrator's API key (shown once; only its hash "
                              "is kept):") + 1]
    principal = ApiKeys(SqlKeyStore(connect(database))).authenticate(token)
    assert "admin" in principal.scopes

    again = bootstrap(str(folder), env=env)
    assert again.returncode == 0, again.stderr
    assert "holds 3 documents: not indexing again" in again.stdout
    assert "exists already" in again.stdout and token not in again.stdout
    assert len(ApiKeys(SqlKeyStore(connect(database))).list()) == 1


def test_an_empty_folder_is_said_and_still_gives_the_key(tmp_path):
    empty = tmp_path / "documents"
    empty.mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "PYTHONPATH": str(ROOT),
           "HF_HUB_OFFLINE": "1", "MILVUS_LITE_PATH": str(tmp_path / "kb.db"),
           "SERVICES_DB_URL": f"sqlite:///{tmp_path / 'api.db'}"}
    result = bootstrap(str(empty), env=env)
    assert result.returncode == 0, result.stderr
    assert "holds no documents. The knowledge base is empty" in result.stdout
    assert "The first administrator's API key" in result.stdout
