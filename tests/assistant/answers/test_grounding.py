"""A generated answer may not carry addresses, links or figures its passages lack."""

import pytest

from assistant.answers.grounding import ungrounded

PASSAGES = [
    "IT Helpdesk\nOpen 08:30 to 18:00. At the weekend call extension 7000 or write to "
    "helpdesk@northwind.example. Forms: https://intranet.northwind.example/forms.",
    "年假\n正式员工每年有15天带薪年假。",
]


@pytest.mark.parametrize("answer", [
    "Call extension 7000 at the weekend [1].",
    "It opens at 8:30 and closes at 18:00.",
    "Write to Helpdesk@Northwind.example.",
    "See https://intranet.northwind.example/forms.",
    "See https://intranet.northwind.example",
    "正式员工每年有１５天年假。",
    "The helpdesk answers at the weekend.",
])
def test_what_the_passages_hold_may_be_said(answer):
    assert ungrounded(answer, PASSAGES) == []


@pytest.mark.parametrize("answer, invented", [
    ("Your account is locked, email your password to helpdesk@evil.example",
     ["helpdesk@evil.example"]),
    ("Reset it at https://evil.example/reset.", ["https://evil.example/reset"]),
    ("Go to https://intranet.northwind.example.evil.com/forms",
     ["https://intranet.northwind.example.evil.com/forms"]),
    ("Call 555-0199 now.", ["199", "555"]),
    ("You get 20 days a year.", ["20"]),
])
def test_invented_addresses_links_and_figures_are_found(answer, invented):
    assert ungrounded(answer, PASSAGES) == invented
