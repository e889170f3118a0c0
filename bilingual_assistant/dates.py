"""Relative dates in Chinese and English: today, tomorrow and weekdays."""

from __future__ import annotations

import datetime as dt
import re
from typing import Dict, Optional, Text

WEEKDAYS = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)

# Canonical value -> days from today (weekdays are resolved separately).
RELATIVE_DAYS: Dict[Text, int] = {"today": 0, "tomorrow": 1, "day_after_tomorrow": 2}

# Surface forms -> canonical value. The NLU's entity synonyms map most of these
# already; the table lets the action understand raw values too.
_ALIASES: Dict[Text, Text] = {
    "today": "today",
    "tonight": "today",
    "now": "today",
    "今天": "today",
    "今日": "today",
    "今晚": "today",
    "现在": "today",
    "tomorrow": "tomorrow",
    "tmr": "tomorrow",
    "明天": "tomorrow",
    "明日": "tomorrow",
    "明早": "tomorrow",
    "day after tomorrow": "day_after_tomorrow",
    "the day after tomorrow": "day_after_tomorrow",
    "后天": "day_after_tomorrow",
    "weekend": "saturday",
    "this weekend": "saturday",
    "周末": "saturday",
    "这周末": "saturday",
}
_ZH_DAY = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_ZH_WEEKDAY = re.compile(r"^(下个?|这个?|本)?(?:周|星期|礼拜)([一二三四五六日天])$")
_EN_WEEKDAY = re.compile(r"^(next |this |on )?([a-z]+?)s?$")


def _weekday_from(value: Text) -> Optional[tuple]:
    """(weekday index, next-week flag) for weekday words, else None."""
    m = _ZH_WEEKDAY.match(value)
    if m:
        return _ZH_DAY[m.group(2)], bool(m.group(1) and m.group(1).startswith("下"))
    m = _EN_WEEKDAY.match(value)
    if m:
        word = m.group(2)
        for index, name in enumerate(WEEKDAYS):
            if word == name or (len(word) >= 3 and name.startswith(word)):
                return index, m.group(1) == "next "
    return None


def resolve_date(value: Optional[Text], today: dt.date) -> Optional[dt.date]:
    """Turns a date expression into a calendar date.

    Args:
        value: "today", "明天", "friday", "下周五", "2026-11-30", or a canonical
            value from the NLU ("day_after_tomorrow"); None means today.
        today: the reference date.

    Returns:
        The date, or None if the expression is not understood. A weekday means its
        next occurrence, today included; "next"/"下" adds a week.
    """
    if value is None:
        return today
    text = re.sub(r"\s+", " ", str(value).strip().lower())
    text = _ALIASES.get(text, text)
    if text in RELATIVE_DAYS:
        return today + dt.timedelta(days=RELATIVE_DAYS[text])
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        pass
    weekday = _weekday_from(text)
    if weekday is None:
        return None
    index, next_week = weekday
    delta = (index - today.weekday()) % 7
    if next_week:
        delta += 7
    return today + dt.timedelta(days=delta)
