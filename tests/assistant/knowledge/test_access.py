"""Who may read which document (issue #27 item 6): the access files beside the
documents, the reader's groups, and the platform people's mapping."""

import pytest

from bilingual_assistant.errors import ConfigurationError, DocumentError, InputError
from bilingual_assistant.knowledge.access import (
    EVERYONE,
    EVERYTHING,
    PlatformGroups,
    Reader,
    check_groups,
    readers_of,
    write_readers,
)
from bilingual_assistant.knowledge.documents import read_document


def test_groups_are_checked_sorted_and_deduplicated():
    assert check_groups("hr, finance hr", "upload") == ("finance", "hr")
    assert check_groups(["Engineering", "team:payroll", "a@b.c"], "x") == (
        "Engineering", "a@b.c", "team:payroll")
    assert check_groups(None, "x") == () and check_groups([], "x") == ()
    for bad in (["hr", 3], ["../x"], ["with space"], {"hr": 1}, ["x" * 129]):
        with pytest.raises(InputError, match="group|list"):
            check_groups(bad, "upload")


def test_a_reader_reads_everyones_documents_and_their_groups():
    hr = Reader(frozenset({"hr"}))
    assert hr.may_read(()) and hr.may_read(("finance", "hr"))
    assert not hr.may_read(("finance",))
    assert EVERYONE.may_read(()) and not EVERYONE.may_read(("hr",))
    assert EVERYTHING.may_read(("anything",))
    assert hr.scope != EVERYONE.scope != EVERYTHING.scope


def test_the_wire_form_round_trips_and_anything_malformed_is_no_reader():
    hr = Reader(frozenset({"hr", "it"}))
    assert Reader.from_metadata({"reader": hr.to_metadata()}) == hr
    assert Reader.from_metadata({"reader": EVERYTHING.to_metadata()}) == EVERYTHING
    for metadata in (None, {}, {"reader": "hr"}, {"reader": {"groups": ["../x"]}}):
        assert Reader.from_metadata(metadata) is None
    # Only a literal true reads everything.
    assert Reader.from_metadata({"reader": {"everything": "yes"}}) == EVERYONE


def test_the_nearest_access_file_decides_and_a_documents_own_comes_first(tmp_path):
    root = tmp_path / "kb"
    (root / "hr" / "payroll").mkdir(parents=True)
    doc = root / "hr" / "payroll" / "salary.md"
    doc.write_text("# Salary\n\nPaid on the 25th.\n")
    assert readers_of(doc, root) == ()
    (tmp_path / ".access.yml").write_text("groups: [outside]\n")  # above the root
    assert readers_of(doc, root) == ()
    (root / "hr" / ".access.yml").write_text("groups: [hr]\n")
    assert readers_of(doc, root) == ("hr",)
    (root / "hr" / "payroll" / ".access.yml").write_text("groups: [payroll, hr]\n")
    assert readers_of(doc, root) == ("hr", "payroll")
    assert write_readers(doc, ["finance"]).name == "salary.md.access.yml"
    assert readers_of(doc, root) == ("finance",)
    document = read_document(doc, root)
    assert document.readers == ("finance",)
    assert write_readers(doc, []) is None
    assert readers_of(doc, root) == ("hr", "payroll")
    (root / "hr" / "payroll" / ".access.yml").write_text("groups: []\n")
    assert readers_of(doc, root) == ()


def test_naming_groups_changes_the_documents_hash_but_everyones_keeps_the_old_one(tmp_path):
    import hashlib

    doc = tmp_path / "a.md"
    doc.write_text("# A\n\nText.\n")
    plain = read_document(doc, tmp_path)
    assert plain.content_hash == hashlib.sha256(doc.read_bytes()).hexdigest()
    write_readers(doc, ["hr"])
    assert read_document(doc, tmp_path).content_hash != plain.content_hash


@pytest.mark.parametrize("text", ["groups: hr: [\n", "[hr]\n", "readers: [hr]\n",
                                  "groups: ['not a name']\n"])
def test_an_access_file_that_cannot_be_read_is_a_document_error(tmp_path, text):
    doc = tmp_path / "a.md"
    doc.write_text("# A\n\nText.\n")
    (tmp_path / ".access.yml").write_text(text)
    with pytest.raises(DocumentError, match=r"\.access\.yml"):
        read_document(doc, tmp_path)


def test_platform_people_get_the_groups_of_every_pattern_they_match(tmp_path):
    mapping = tmp_path / "groups.yml"
    mapping.write_text("slack:T1:*:U7: [hr]\ntelegram:*:42: [hr, finance]\n"
                       "telegram:-100*:*: [staff]\n")
    groups = PlatformGroups.load(mapping)
    assert groups.reader_of("slack:T1:C9:U7") == Reader(frozenset({"hr"}))
    assert groups.reader_of("slack:T2:C9:U7") == EVERYONE
    assert groups.reader_of("telegram:-1001:42") == Reader(frozenset({"hr", "finance",
                                                                      "staff"}))
    assert groups.reader_of("oidc:42") == EVERYONE
    assert PlatformGroups.load(None).reader_of("telegram:1:42") == EVERYONE


@pytest.mark.parametrize("text,said", [("oidc:*: [hr]\n", "Slack, Telegram or WeCom"),
                                       ("- hr\n", "map conversation id patterns"),
                                       ("telegram:*:1: [../x]\n", "group name"),
                                       ("a: [\n", "YAML")])
def test_a_bad_mapping_stops_the_action_server_saying_what_to_fix(tmp_path, text, said):
    mapping = tmp_path / "groups.yml"
    mapping.write_text(text)
    with pytest.raises(ConfigurationError, match=said):
        PlatformGroups.load(mapping)
