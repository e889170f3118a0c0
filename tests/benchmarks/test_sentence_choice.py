"""The sentence-choice benchmark's table (benchmarks/render.py)."""

from benchmarks.render import sentence_choice_table


def test_the_table_has_a_row_per_bonus_and_a_column_per_set_in_the_pages_order():
    results = {
        "0.0": {"project": {"n": 10, "right": 6, "typed": 4, "typed_right": 2},
                "cmrc2018": {"n": 5, "right": 3, "typed": 1, "typed_right": 1}},
        "3.0": {"project": {"n": 10, "right": 8, "typed": 4, "typed_right": 4},
                "cmrc2018": {"n": 5, "right": 3, "typed": 1, "typed_right": 1}},
    }
    lines = sentence_choice_table(results).splitlines()
    assert lines[0] == ("| ranking | project: right (asking for a kind) "
                        "| CMRC 2018: right (asking for a kind) |")
    assert lines[2] == "| type bonus 0 | 6 / 10 (2 / 4) | 3 / 5 (1 / 1) |"
    assert lines[3] == "| type bonus 3 | 8 / 10 (4 / 4) | 3 / 5 (1 / 1) |"


def test_named_rows_keep_their_names():
    results = {"e5-small · meaning 24 · type bonus 3": {
        "project": {"n": 4, "right": 3, "typed": 0, "typed_right": 0}}}
    lines = sentence_choice_table(results).splitlines()
    assert lines[2] == "| e5-small · meaning 24 · type bonus 3 | 3 / 4 (0 / 0) |"
