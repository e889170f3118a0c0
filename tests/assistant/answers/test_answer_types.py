"""The kind of value a question asks for, and the sentences that hold one."""

import pytest

from bilingual_assistant.answers.answer_types import asked_types, holds_asked_type
from bilingual_assistant.answers.extractive import rank_sentences


@pytest.mark.parametrize("question, kind", [
    ("IT服务台几点上班?", "clock_time"),
    ("What time does the helpdesk open?", "clock_time"),
    ("whats the IT helpdesk number if im calling from my mobile", "phone"),
    ("Who do I call at the weekend if the network is down?", "phone"),
    ("报销单发到哪个邮箱?", "email"),
    ("鲁迅是哪一年出生的?", "year"),
    ("In what year was the bridge finished?", "year"),
    ("年假有几天?", "quantity"),
    ("How many days of annual leave do I get?", "quantity"),
    ("差旅住宿每晚能报销多少钱?", "money"),
])
def test_the_kind_a_question_asks_for(question, kind):
    assert kind in asked_types(question)


@pytest.mark.parametrize("question", [
    "How do I connect to the VPN?", "医生证明要交给谁?", "远程办公需要经理批准吗?",
    "Who founded the company?",
])
def test_questions_that_ask_for_no_particular_kind(question):
    assert asked_types(question) == frozenset()


@pytest.mark.parametrize("sentence, kind, holds", [
    ("服务台的人工服务时间为周一至周五 08:30–18:00(北京时间)。", "clock_time", True),
    ("周六、周日和法定节假日,常规服务台不上班:现场服务点关闭。", "clock_time", False),
    ("The desk opens at 9 am.", "clock_time", True),
    ("外线请拨 +86 21 5555 6000。", "phone", True),
    ("At weekends dial extension 7000.", "phone", True),
    ("Phones must be locked with a PIN.", "phone", False),
    ("邮件:it-help@northwind.example", "email", True),
    ("他于1881年出生于浙江绍兴。", "year", True),
    ("他出生于浙江绍兴。", "year", False),
    ("全职员工每年有 15 天带薪年假。", "quantity", True),
    ("远程办公需要经理批准。", "quantity", False),
    ("Contractors do not get paid annual leave.", "quantity", True),
    ("印度野驴最高每小时可跑七十公里。", "quantity", True),
    ("每晚住宿上限为 600 元。", "money", True),
    ("住宿需要提前预订。", "money", False),
])
def test_whether_a_sentence_holds_the_kind(sentence, kind, holds):
    assert holds_asked_type(sentence, frozenset({kind})) is holds


def test_a_sentence_with_the_asked_kind_outranks_one_that_shares_the_questions_words():
    # The README's first example: "不上班" shares 服务台 and 上班 with the question,
    # the weekday hours only 服务台; both equally close in meaning here.
    passages = ["周六、周日和法定节假日,常规服务台不上班:现场服务点关闭。",
                "服务台的人工服务时间为周一至周五 08:30–18:00(北京时间)。"]
    ranked = rank_sentences("IT服务台几点上班?", passages,
                            lambda question, texts: [0.5] * len(texts))
    assert "08:30" in ranked[0].text


@pytest.mark.parametrize("question", ["乡里组织什么时候开始瓦解的？",
                                      "When did Beyonce leave Destiny's Child?"])
def test_when_asks_for_a_date_a_year_or_a_time(question):
    assert {"date", "year", "clock_time"} <= asked_types(question)


def test_when_in_the_middle_of_a_question_is_a_conjunction():
    assert asked_types("whats the IT support number when calling from outside the office") \
        == frozenset({"phone"})
