"""What a service says at start about the knowledge base."""

import logging

from bilingual_assistant.errors import StoreError
from bilingual_assistant.knowledge.status import EMPTY, announce


def test_an_empty_knowledge_base_is_announced_with_the_fix(caplog):
    with caplog.at_level(logging.INFO):
        assert announce(dict) == EMPTY
    assert "make index" in EMPTY and "/admin/" in EMPTY
    assert [r.message for r in caplog.records] == ["knowledge.empty"]


def test_documents_are_counted_and_nothing_is_said(caplog):
    with caplog.at_level(logging.INFO):
        assert announce(lambda: {"a.md": "1", "b.md": "2"}) is None
    (record,) = caplog.records
    assert record.message == "knowledge.ready" and record.documents == 2


def test_an_unreadable_store_is_said_without_crashing(caplog):
    def broken():
        raise StoreError("Milvus query failed: connection refused")

    notice = announce(broken)
    assert notice and "cannot be read yet" in notice and "connection refused" in notice
    assert caplog.records[-1].message == "knowledge.unreadable"
