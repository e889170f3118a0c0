"""The packaged embedders with their real weights: a question finds its answer in
either language, and e5 reads questions and passages in their own roles."""

from pathlib import Path

import pytest

from bilingual_assistant.knowledge.embedder import make_embedder, similarities

ANSWER_ZH = "服务台周一至周五 08:30 到 18:00 有人值班。"
ANSWER_EN = "Full-time employees receive 15 days of paid annual leave per year."
OTHER = "The VPN needs multi-factor authentication."


@pytest.mark.parametrize("name", ["use-multilingual", "e5-small"])
def test_a_question_is_closer_to_its_answer_than_to_an_unrelated_sentence(name, tmp_path):
    embedder = make_embedder(name, tmp_path)
    zh = similarities(embedder, "IT服务台几点上班?", [ANSWER_ZH, OTHER])
    en = similarities(embedder, "How many days of annual leave do I get?", [ANSWER_EN, OTHER])
    across = similarities(embedder, "年假有几天?", [ANSWER_EN, OTHER])
    assert zh[0] > zh[1] and en[0] > en[1] and across[0] > across[1]
    assert len(embedder.embed([OTHER])[0]) == embedder.dim


def test_e5_reads_a_question_in_the_query_role(tmp_path):
    e5 = make_embedder("e5-small", Path(tmp_path))
    as_query = e5.embed_queries([ANSWER_EN])[0]
    as_passage = e5.embed([ANSWER_EN])[0]
    assert abs(sum(v * v for v in as_query) - 1.0) < 1e-3
    assert sum(a * b for a, b in zip(as_query, as_passage, strict=True)) < 0.999
