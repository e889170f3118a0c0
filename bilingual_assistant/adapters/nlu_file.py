"""Reviewed training examples in a Rasa NLU file (`data/nlu/reviewed.yml`), written
by administrators' corrections and read by the next training like any other."""

from __future__ import annotations

import fcntl
import os
import tempfile
import unicodedata
from pathlib import Path
from typing import Dict, List, Text

import yaml

from bilingual_assistant.errors import ConfigurationError, InputError

HEADER = ("# Training examples corrected by administrators in the review queue\n"
          "# (POST /v1/feedback/{id}/intent). Kept in version control like the rest.\n")


def training_text(text: Text) -> Text:
    """A person's message as a training example that says only what they typed: no
    control or format characters (escape sequences, NUL, bidi overrides, zero-width
    marks), one line, and square brackets made round, since `[Berlin](city)` in
    Rasa's training data is an entity label, not text."""
    kept = "".join(c for c in text if unicodedata.category(c) not in ("Cc", "Cf")
                   or c in "\t\n")
    return " ".join(kept.replace("[", "(").replace("]", ")").split())


def _domain_intents(domain: Path) -> List[Text]:
    try:
        data = yaml.safe_load(domain.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigurationError(f"The domain {domain} cannot be read: {error}.") from None
    intents = data.get("intents") or []
    return [i if isinstance(i, str) else next(iter(i)) for i in intents]


class ReviewedExamples:
    """`TrainingExamples` in one YAML file, changed under a file lock and replaced
    atomically, so a crash never leaves half a file."""

    def __init__(self, path: Path, domain: Path) -> None:
        self.path, self.domain = path, domain

    def intents(self) -> List[Text]:
        return [i for i in _domain_intents(self.domain) if i != "nlu_fallback"]

    def _read(self) -> Dict[Text, List[Text]]:
        if not self.path.exists():
            return {}
        data = yaml.safe_load(self.path.read_text(encoding="utf-8")) or {}
        examples: Dict[Text, List[Text]] = {}
        for block in data.get("nlu") or []:
            lines = str(block.get("examples", "")).splitlines()
            examples.setdefault(block["intent"], []).extend(
                line.strip()[2:] for line in lines if line.strip().startswith("- "))
        return examples

    def add(self, text: Text, intent: Text) -> bool:
        example = training_text(text)
        if not example or len(example) > 500:
            raise InputError("A training example is 1 to 500 characters on one line.")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            examples = self._read()
            if any(example.lower() == e.lower() for e in examples.get(intent, [])):
                return False
            examples.setdefault(intent, []).append(example)
            # Literal blocks, as Rasa's own files are written: one example a line.
            body = 'version: "3.1"\nnlu:\n' + "".join(
                f"  - intent: {name}\n    examples: |\n"
                + "".join(f"      - {e}\n" for e in items)
                for name, items in sorted(examples.items()))
            handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".reviewed-")
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(HEADER + body)
            os.replace(temporary, self.path)
        return True
