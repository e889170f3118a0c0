"""What kind of value a question asks for (a clock time, a phone number, a year …)
and whether a sentence holds one: a sentence without the asked kind cannot answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import FrozenSet, Pattern, Text, Tuple


@dataclass(frozen=True)
class AnswerType:
    """A kind of value: the questions that ask for it and how it is written."""

    name: Text
    asked_by: Pattern[Text]
    written: Pattern[Text]


_DIGIT_COUNT = r"(?:\d+(?:\.\d+)?|[一二两三四五六七八九十百千万半几]+)"
_MONTHS = (r"January|February|March|April|May|June|July|August|September|October|"
           r"November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec")
_WEEKDAYS = r"Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|weekdays?|weekends?"
# "When …?" asks for a date, a year or a clock time; an English "when" in the middle
# ("the number when calling from outside") is a conjunction: measured, it made
# time and date sentences win two phone and allowance questions of the tune half.
_WHEN = (r"什么时候|何时|^\W*when\b|\bwhen (?:do|does|did|is|are|was|were|will|would|can|"
         r"could|should|must|shall)\b")
_CHINESE_COUNT = r"[一二两三四五六七八九十百千万亿半几]+"
_CLASSIFIERS = (r"个|次|天|日|周|星期|个月|月|年|小时|分钟|秒|人|位|名|项|条|台|张|份|种|座|家|"
                r"公里|千米|米|公分|厘米|公斤|千克|吨|平方|亩|倍|岁")

# Order does not matter: a question may ask for several kinds ("when": a date or a
# time), and a sentence answers when it holds any of them.
ANSWER_TYPES: Tuple[AnswerType, ...] = (
    AnswerType(
        "clock_time",
        re.compile(r"几点|什么时间(?:上班|下班|开|关|营业)|营业时间|工作时间|服务时间|开放时间|"
                   rf"上班时间|下班时间|{_WHEN}|\bwhat time\b|"
                   r"\b(?:opening|office|business|working) hours\b|"
                   r"\bwhen does .* (?:open|close|start|end)\b|\bhours\b",
                   re.IGNORECASE),
        re.compile(r"\d{1,2}\s*[:：]\s*\d{2}|\d{1,2}\s*(?:点|时)(?:半|\d+分)?|"
                   r"\b\d{1,2}\s*(?:a\.?m\.?|p\.?m\.?)|\bnoon\b|\bmidnight\b|中午|午夜|凌晨",
                   re.IGNORECASE)),
    AnswerType(
        "phone",
        re.compile(r"电话|号码|分机|热线|拨打|打给|\bphone\b|\bcall\b|\bcalling\b|"
                   r"\bextension\b|\bhotline\b|\bnumber to\b|\bdial\b", re.IGNORECASE),
        re.compile(r"\+?\d[\d\s-]{5,}\d|(?:分机|\bext(?:ension)?\.?)\s*\d{3,}",
                   re.IGNORECASE)),
    AnswerType(
        "email",
        re.compile(r"邮箱|邮件地址|电子邮件|\be-?mail\b", re.IGNORECASE),
        re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")),
    AnswerType(
        "web_address",
        re.compile(r"网址|网站|链接|哪个平台|\bwebsite\b|\burl\b|\blink\b|\bportal\b|"
                   r"\bwhich site\b", re.IGNORECASE),
        re.compile(r"https?://|\bwww\.|\b[\w-]+\.(?:example|com|cn|org|net|io)\b",
                   re.IGNORECASE)),
    AnswerType(
        "money",
        re.compile(r"多少钱|费用|价格|金额|报销多少|补贴多少|预算|\bhow much\b|\bcost\b|"
                   r"\bprice\b|\bfee\b|\bbudget\b|\ballowance\b", re.IGNORECASE),
        re.compile(r"[¥￥$€£]\s*\d|\d\s*(?:元|块|万元|美元|欧元|英镑)|"
                   r"\b(?:RMB|CNY|USD|EUR|GBP)\b|\d\s*(?:dollars?|euros?|pounds?|yuan)\b",
                   re.IGNORECASE)),
    AnswerType(
        "percentage",
        re.compile(r"百分之|百分比|比例|几成|\bpercent(?:age)?\b|\bwhat share\b",
                   re.IGNORECASE),
        re.compile(r"\d\s*[%％]|百分之|\d\s*成|\bpercent\b", re.IGNORECASE)),
    AnswerType(
        "year",
        re.compile(rf"哪一?年|何年|年份|什么年代|哪个年代|{_WHEN}|"
                   r"\b(?:which|what) (?:year|decade)s?\b", re.IGNORECASE),
        re.compile(r"\d{2,4}\s*年|\b1[0-9]{3}s?\b|\b20[0-9]{2}s?\b|[〇零一二三四五六七八九]{4}年|"
                   r"[一二三四五六七八九十]+年代")),
    AnswerType(
        "date",
        re.compile(rf"哪天|哪一天|几号|几月|什么日子|日期|截止|{_WHEN}|\bwhich day\b|\bwhat date\b|"
                   r"\bdeadline\b|\bby when\b|\bwhat day\b", re.IGNORECASE),
        re.compile(r"\d{1,2}\s*月\s*\d{1,2}\s*[日号]|\d{1,2}\s*[日号]|[一二三四五六七八九十]+月|"
                   r"月[底初中]|年[底初]|周[一二三四五六日末]|星期[一二三四五六日天]|工作日|"
                   rf"\b(?:{_MONTHS})\b|\b(?:{_WEEKDAYS})\b|\d{{4}}-\d{{2}}-\d{{2}}",
                   re.IGNORECASE)),
    AnswerType(
        "quantity",
        re.compile(r"多少(?!钱)|多大|多长|多高|多远|多重|多宽|多深|多久|几(?!点)|"
                   r"\bhow (?:many|much|long|often|far|tall|big|old|large|high|deep)\b",
                   re.IGNORECASE),
        re.compile(rf"\d|{_CHINESE_COUNT}\s*(?:{_CLASSIFIERS})|"
                   r"\b(?:once|twice|one|two|three|four|five|six|seven|eight|nine|ten|"
                   r"eleven|twelve|fifteen|twenty|thirty|forty|fifty|hundred|thousand|"
                   r"million|billion|dozen)\b|"
                   # "none" answers "how many" too: "Contractors do not get paid annual
                   # leave" for "how many days … and for contractors?"
                   r"\b(?:no|not|none|never)\b|n't\b|没有|不享有|不提供|不需要|无需",
                   re.IGNORECASE)),
)


def asked_types(question: Text) -> FrozenSet[Text]:
    """The names of the kinds of value the question asks for (empty: any sentence)."""
    return frozenset(t.name for t in ANSWER_TYPES if t.asked_by.search(question))


def holds_asked_type(sentence: Text, asked: FrozenSet[Text]) -> bool:
    """Whether the sentence holds a value of one of the asked kinds."""
    return any(t.written.search(sentence) for t in ANSWER_TYPES if t.name in asked)
