"""The embedded model's file is joined from its packages and checked; the plain
prompt format for base models."""

import hashlib
import sys
from dataclasses import replace

import pytest

from bilingual_assistant.errors import ModelFileError
from bilingual_assistant.llm import local_models
from bilingual_assistant.llm.local_models import LocalModel, ensure_model
from bilingual_assistant.llm.plain_format import ANSWER_LABEL, plain_prompt


@pytest.fixture
def packaged(tmp_path, monkeypatch):
    """Two importable 'packages' holding the parts of a model file."""
    parts = [b"GGUF-part-one|", b"part-two"]
    for number, data in enumerate(parts, start=1):
        (tmp_path / f"part{number}.bin").write_bytes(data)
        (tmp_path / f"fake_model_part{number}.py").write_text(
            f"def get_part_path():\n    return {str(tmp_path / f'part{number}.bin')!r}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    digest = hashlib.sha256(b"".join(parts)).hexdigest()
    model = LocalModel("fake", ("fake_model_part1", "fake_model_part2"), 0, digest, None)
    monkeypatch.setitem(local_models.MODELS, "fake", model)
    yield model
    for name in model.parts:
        sys.modules.pop(name, None)


def test_the_parts_are_joined_once_and_verified(tmp_path, packaged):
    target = tmp_path / "models" / "fake.gguf"
    lines = []
    assert ensure_model("fake", target, lines.append) == target
    assert target.read_bytes() == b"GGUF-part-one|part-two"
    assert lines[0].startswith("Writing the embedded model fake") and len(lines) == 3
    lines.clear()
    ensure_model("fake", target, lines.append)
    assert lines == []  # verified before: not written again


def test_a_wrong_checksum_leaves_no_file_and_says_what_to_do(tmp_path, packaged, monkeypatch):
    monkeypatch.setitem(local_models.MODELS, "fake", replace(packaged, sha256="0" * 64))
    target = tmp_path / "fake.gguf"
    with pytest.raises(ModelFileError, match="damaged"):
        ensure_model("fake", target)
    assert not target.exists() and not target.with_suffix(".partial").exists()


def test_missing_packages_name_the_fix(tmp_path, monkeypatch):
    monkeypatch.setitem(local_models.MODELS, "absent",
                        LocalModel("absent", ("no_such_part_xyz",), 0, "0" * 64, None))
    with pytest.raises(ModelFileError, match="make setup"):
        ensure_model("absent", tmp_path / "absent.gguf")


def test_the_plain_format_ends_with_the_answer_label():
    prompt = plain_prompt([{"role": "system", "content": "Rules."},
                           {"role": "user", "content": [{"type": "text", "text": "Q?"}]}])
    assert prompt == f"Rules.\n\nQ?\n{ANSWER_LABEL}"
