import datetime as dt

import pytest

from bilingual_assistant.dates import resolve_date

TUESDAY = dt.date(2026, 11, 24)


@pytest.mark.parametrize(
    "value, expected",
    [
        (None, TUESDAY),
        ("today", TUESDAY),
        ("今天", TUESDAY),
        ("Tomorrow", dt.date(2026, 11, 25)),
        ("明天", dt.date(2026, 11, 25)),
        ("day_after_tomorrow", dt.date(2026, 11, 26)),
        ("后天", dt.date(2026, 11, 26)),
        ("friday", dt.date(2026, 11, 27)),
        ("Fri", dt.date(2026, 11, 27)),
        ("on saturday", dt.date(2026, 11, 28)),
        ("周五", dt.date(2026, 11, 27)),
        ("星期天", dt.date(2026, 11, 29)),
        ("礼拜一", dt.date(2026, 11, 30)),
        ("tuesday", TUESDAY),
        ("next tuesday", dt.date(2026, 12, 1)),
        ("下周二", dt.date(2026, 12, 1)),
        ("next wednesday", dt.date(2026, 12, 2)),
        ("周末", dt.date(2026, 11, 28)),
        ("2026-12-03", dt.date(2026, 12, 3)),
        ("someday", None),
        ("周八", None),
        ("th", None),
    ],
)
def test_resolve_date(value, expected):
    assert resolve_date(value, TUESDAY) == expected
