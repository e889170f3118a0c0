"""The documentation's benchmark tables are rendered from result files."""

import json

import benchmarks.render as render


def write(tmp_path, name, data):
    (tmp_path / name).write_text(json.dumps(data), encoding="utf-8")
    return name


def test_the_routing_table_shows_each_row_of_the_result(tmp_path, monkeypatch):
    monkeypatch.setattr(render, "ROOT", tmp_path)
    path = write(tmp_path, "routing.json", {"rows": [
        {"set": "cmrc2018 questions (unanswerable)", "gate": "after", "n": 3,
         "looked up": 2, "weather": 1, "chit-chat": 0, "right": "2/3 (66.7 %)"}]})
    assert render.routing_table(path).splitlines()[2] == (
        "| CMRC 2018 questions (unanswerable) | after | 3 | 2 | 1 | 0 | 2/3 (66.7 %) |")


def test_the_accuracy_table_takes_each_sets_language_rows_and_bolds_the_chosen_path(
        tmp_path, monkeypatch):
    monkeypatch.setattr(render, "ROOT", tmp_path)

    def row(group, correct, n):
        return {"group": group, "n": n, "correct": correct, "wrong": 1, "refused": 0,
                "unsure": n - correct - 1, "correct_pct": 100 * correct / n,
                "routed": 2, "off_topic_reply": 1, "p50_s": 0.05}
    rows = []
    for _, recorded in render.ACCURACY_PATHS:
        rows += [row(f"cmrc2018 · {recorded} · zh · answerable", 5, 10),
                 row(f"cmrc2018 · {recorded} · zh · unanswerable", 9, 10)]
    path = write(tmp_path, "accuracy.json", {"rows": rows})
    lines = render.accuracy_table(path, {"cmrc2018": "model"}).splitlines()
    assert len(lines) == 2 + len(render.ACCURACY_PATHS)
    assert lines[3] == ("| CMRC 2018 | **model** | 5 / 10 (50.0 %) | 1 / 0 / 4 | 1 of 2 | "
                        "9 / 10 (90.0 %) | 0.05 |")


def test_the_candidates_table_counts_claims_over_every_set(tmp_path, monkeypatch):
    monkeypatch.setattr(render, "ROOT", tmp_path)

    def counts(right, claimed):
        return {"answerable": {"n": 10, "right": right, "claimed_right": right - 1,
                               "right_first": right - 2, "right_among_candidates": right},
                "unanswerable": {"n": 10, "claimed": claimed}}
    path = write(tmp_path, "report.json", {"out_of_fold": {
        "project": counts(8, 1), "cmrc2018": counts(6, 0), "squad2": counts(5, 2)}})
    [_, _, line] = render.candidates_table([("verifier", path)]).splitlines()
    assert line == "| verifier | 7 / 10 | 5 / 10 | 4 / 10 | 3 / 30 | 6 / 8 |"
