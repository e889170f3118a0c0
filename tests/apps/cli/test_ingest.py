"""`python -m apps.cli.ingest` as a user runs it: progress, a summary, errors on
stderr, and the exit status (real Milvus Lite file, real default embedder)."""

import subprocess
import sys
from pathlib import Path

from tests.fakes.documents import make_folder

ROOT = Path(__file__).resolve().parents[3]


def ingest(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "apps.cli.ingest", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)


def test_command_line_reports_progress_errors_and_its_status(tmp_path):
    folder = make_folder(tmp_path)
    (folder / "bad.txt").write_bytes("Café".encode("latin-1"))
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "PYTHONPATH": str(ROOT),
           "HF_HUB_OFFLINE": "1", "MILVUS_LITE_PATH": str(tmp_path / "cli.db")}
    result = ingest(str(folder), env=env)
    assert result.returncode == 1, result.stderr
    assert "[  4/4]" in result.stdout and "3 added" in result.stdout
    assert "1 failed" in result.stdout
    assert "not UTF-8" in result.stderr

    missing = ingest(str(tmp_path / "missing"), env=env)
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: Knowledge folder")
    assert "Traceback" not in missing.stderr

    bad_setting = ingest(str(folder), env={**env, "CHUNK_SIZE": "lots"})
    assert bad_setting.returncode == 2
    assert "CHUNK_SIZE must be a whole number, got 'lots'" in bad_setting.stderr
    assert "Traceback" not in bad_setting.stderr
