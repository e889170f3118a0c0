"""The sentence-choice benchmark's table."""

from benchmarks.sentence_choice import markdown


def test_the_table_has_a_row_per_bonus_and_a_column_per_set():
    results = {
        "0.0": {"project": {"n": 10, "right": 6, "typed": 4, "typed_right": 2},
                "cmrc2018": {"n": 5, "right": 3, "typed": 1, "typed_right": 1}},
        "3.0": {"project": {"n": 10, "right": 8, "typed": 4, "typed_right": 4},
                "cmrc2018": {"n": 5, "right": 3, "typed": 1, "typed_right": 1}},
    }
    lines = markdown(results).splitlines()
    assert lines[0] == ("| type bonus | cmrc2018: right / asking for a kind "
                        "| project: right / asking for a kind |")
    assert lines[2] == "| 0.0 | 3 / 5 (1 / 1) | 6 / 10 (2 / 4) |"
    assert lines[3] == "| 3.0 | 3 / 5 (1 / 1) | 8 / 10 (4 / 4) |"
