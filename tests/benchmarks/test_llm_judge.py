"""The LLM-judge measurement's reading of a reply and of the model's log-probabilities."""

import math

from benchmarks.llm_judge import quoted_passage, yes_probability


def test_the_quote_is_read_without_the_replys_framing():
    assert quoted_passage("根据文档： 年假一年 15 天。 [1]") == "年假一年 15 天。"
    assert quoted_passage("From the documents: Leave is 15 days. [1][2]") == (
        "Leave is 15 days.")


def test_yes_is_weighed_against_no_in_either_language_and_case():
    top = [{"token": "Yes", "logprob": math.log(0.6)}, {"token": " no", "logprob": math.log(0.2)},
           {"token": "是", "logprob": math.log(0.1)}, {"token": "The", "logprob": math.log(0.1)}]
    assert abs(yes_probability(top) - 0.7 / 0.9) < 1e-9


def test_no_answer_word_among_the_top_tokens_gives_no_probability():
    assert yes_probability([{"token": "The", "logprob": -0.1}]) is None


def test_the_comparison_table_has_a_row_per_variant_and_set():
    from benchmarks.render import llm_judge_table

    counts = {"answerable": 10, "right_first": 7, "answered_right": 5, "claimed_wrong": 1,
              "unanswerable": 4, "no_claim": 3}
    lines = llm_judge_table({"features": {"threshold": 0.5, "project": counts},
                             "features + LLM yes": {"threshold": 0.4, "cmrc2018": counts}}
                            ).splitlines()
    assert lines[2] == "| features | project | 5 / 10 (7) | 1 | 3 / 4 |"
    assert lines[3] == "| features + LLM yes | CMRC 2018 | 5 / 10 (7) | 1 | 3 / 4 |"
    assert len(lines) == 4
