import pytest

from bilingual_assistant.errors import ConfigurationError
from bilingual_assistant.knowledge.chunking import chunk_document
from bilingual_assistant.knowledge.documents import Document, Section
from bilingual_assistant.text import split_sentences, text_units


def doc(*sections, title="Guide"):
    return Document("g.md", title, [Section(h, t) for h, t in sections], "hash")


def test_units_count_chinese_characters_and_english_words():
    assert text_units("IT服务台 is open 8:30") == 4 + 3 + 1


def test_sentences_split_on_chinese_and_latin_punctuation():
    assert split_sentences("第一句。第二句！Third one. Fourth?\nFifth") == [
        "第一句。", "第二句！", "Third one.", "Fourth?", "Fifth"]


def test_chunks_keep_titles_and_stay_under_the_size():
    sentences = [f"这是第{i}个句子，内容用于测试分块。" for i in range(30)]
    chunks = chunk_document(doc(("规则", "".join(sentences))), size=60, overlap=15)
    assert len(chunks) > 3
    for chunk in chunks:
        assert chunk.text.startswith("Guide — 规则\n")
        assert text_units(chunk.passage) <= 60
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert len({c.id for c in chunks}) == len(chunks)


def test_overlap_repeats_the_last_sentences():
    sentences = [f"Sentence number {i} is here." for i in range(20)]
    chunks = chunk_document(doc(("", " ".join(sentences))), size=20, overlap=6)
    first, second = chunks[0].passage, chunks[1].passage
    assert second.split(".")[0] + "." in first


def test_sections_are_never_merged():
    chunks = chunk_document(doc(("A", "Short one."), ("B", "Short two.")), size=200)
    assert [c.heading for c in chunks] == ["A", "B"]


def test_a_sentence_longer_than_the_size_is_cut():
    chunks = chunk_document(doc(("", "字" * 130)), size=50, overlap=0)
    assert [text_units(c.passage) for c in chunks] == [50, 50, 30]


def test_bad_overlap_is_rejected():
    with pytest.raises(ConfigurationError, match="CHUNK_OVERLAP below CHUNK_SIZE"):
        chunk_document(doc(("", "x")), size=10, overlap=10)
