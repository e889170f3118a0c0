"""Each process's own requirements list holds everything it imports.

The services' environment (`make setup`) installs the API's list, which includes
the action server's, so a package missing from the action server's list goes
unnoticed here and breaks only its Docker image, which installs that list alone
(`ModuleNotFoundError: No module named 'jwt'` when the image first ran). Each case
imports the process's entry module in a fresh interpreter in which only the
distributions its list names can be imported, as in its image; optional imports
(`try: import brotli`) then fail as they would there, and are handled."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Set, Text

import pytest

PROJECT = Path(__file__).resolve().parents[2]

# Only the listed distributions can be imported; stdlib and the project's own
# packages belong to no distribution and pass.
PROBE = r"""
import importlib, importlib.abc, importlib.metadata, re, sys

listed = set(sys.argv[1].split(","))
owners = importlib.metadata.packages_distributions()

def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()

class OnlyListed(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        top = name.partition(".")[0]
        dists = owners.get(top)
        if dists and not any(norm(d) in listed for d in dists):
            raise ModuleNotFoundError(
                f"No module named {top!r}: its distribution {dists} is not listed",
                name=top)
        return None

sys.meta_path.insert(0, OnlyListed())
for module in sys.argv[2:]:
    importlib.import_module(module)
print("imported", len(sys.argv) - 2)
"""


def listed(requirements: Path) -> Set[Text]:
    """The distributions a pinned requirements file names, following `-r`."""
    names: Set[Text] = set()
    for line in requirements.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("-r"):
            names |= listed(requirements.parent / line[2:].strip())
        elif line and not line.startswith("#"):
            names.add(re.sub(r"[-_.]+", "-", re.split(r"[=<>~!\[; ]", line)[0]).lower())
    return names


# The entry module, and what it imports only when a setting asks for it
# (PostgreSQL's driver, Redis, the Milvus client).
CASES = {
    "action server": ("apps/action_server/requirements.txt",
                      ["apps.action_server.__main__", "psycopg", "redis.asyncio",
                       "pymilvus", "milvus_lite"]),
    "api": ("apps/api/requirements.txt",
            ["apps.api.__main__", "psycopg", "redis", "pymilvus"]),
    "worker": ("apps/api/requirements.txt",
               ["apps.worker.__main__", "psycopg", "redis", "celery"]),
}


@pytest.mark.parametrize("process", sorted(CASES))
def test_the_process_imports_with_only_its_own_list_installed(process: Text) -> None:
    requirements, modules = CASES[process]
    names = listed(PROJECT / requirements)
    result = subprocess.run([sys.executable, "-c", PROBE, ",".join(sorted(names)), *modules],
                            cwd=PROJECT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"imported {len(modules)}" in result.stdout


def test_the_probe_refuses_what_is_not_listed() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE, "pytest", "sqlalchemy"],
                            cwd=PROJECT, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "No module named 'sqlalchemy'" in result.stderr
