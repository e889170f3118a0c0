import pytest

from bilingual_assistant.text import detect_language, has_content, split_sentences, strip_markup


@pytest.mark.parametrize(
    "text, expected",
    [
        ("明天北京天气怎么样", "zh"),
        ("what's the weather in Beijing", "en"),
        ("明天 New York 天气", "zh"),
        ("what does 帝都 mean", "en"),
        ("hello, 你好", "zh"),
        ("😀👍", None),
        ("12345 !!!", None),
        ("", None),
        (None, None),
    ],
)
def test_detect_language(text, expected):
    assert detect_language(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("hi", True),
        ("你好", True),
        ("42", True),
        ("١٢٣", True),
        ("?! 3", True),
        ("Привет", True),
        ("!!!???", False),
        ("😀👍🏽", False),
        ("……。！", False),
        ("\u200b \t\n", False),
        ("", False),
        (None, False),
    ],
)
def test_has_content(text, expected):
    assert has_content(text) is expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("<script>alert(1)</script>ok", "alert(1)ok"),
        ('<svg onload=alert(1)>', ""),
        ("<scr<script>ipt>x", "x"),
        ("<!-- hidden -->shown", "shown"),
        ("a < b and c > d, <3", "a < b and c > d, <3"),
        ("正式员工<b>15</b>天", "正式员工15天"),
        ('<img src=x onerror="alert(1)">', ""),
    ],
)
def test_markup_is_stripped_from_text_for_people(text, expected):
    assert strip_markup(text) == expected


NORMANS = ("The Normans (Norman: Nourmands; French: Normands; Latin: Normanni) were the "
           "people who in the 10th and 11th centuries gave their name to Normandy, a region "
           "in France. They were descended from Norse raiders.")


def test_sentences_do_not_end_inside_brackets():
    assert split_sentences(NORMANS) == [
        "The Normans (Norman: Nourmands; French: Normands; Latin: Normanni) were the people "
        "who in the 10th and 11th centuries gave their name to Normandy, a region in France.",
        "They were descended from Norse raiders.",
    ]


@pytest.mark.parametrize("opening, closing", [
    ("(", ")"), ("（", "）"), ("[", "]"), ("【", "】"), ("《", "》"),
    ("“", "”"), ("‘", "’"), ("「", "」"), ("『", "』"), ('"', '"'),
])
def test_no_bracket_or_quote_is_cut(opening, closing):
    zh = f"书中写道{opening}第一句。第二句！第三句？{closing}是这样。"
    assert split_sentences(zh + "下一句。") == [zh, "下一句。"]
    en = f"It says {opening}one. Two! Three? Four; five: six{closing} here."
    assert split_sentences(en + " Next.") == [en, "Next."]


def test_a_quote_keeps_its_closing_mark():
    # A full stop inside a quote does not end the sentence; a quoted question goes on.
    one = "他说：“我明天去。你呢？”然后走了。"
    assert split_sentences(one) == [one]
    # 。” ends the sentence, and the quote mark goes with it, not with the next one.
    assert split_sentences("他说：“我明天去。”我们走吧。") == ["他说：“我明天去。”", "我们走吧。"]
    assert split_sentences('He said "Go home." Then he left.') == ['He said "Go home."',
                                                                    "Then he left."]
    assert split_sentences("后来谢安说：“昔日毛嘉受到耻笑。”后来朝廷走访王蕴的女儿。") == [
        "后来谢安说：“昔日毛嘉受到耻笑。”", "后来朝廷走访王蕴的女儿。"]


def test_an_unbalanced_bracket_does_not_swallow_the_text():
    assert split_sentences("A stray ( here. Second one. Third one.") == [
        "A stray ( here.", "Second one.", "Third one."]
    assert split_sentences("一个（没有闭合。第二句。第三句。") == [
        "一个（没有闭合。", "第二句。", "第三句。"]
    assert split_sentences("Closed ) only. Next.") == ["Closed ) only.", "Next."]
    assert split_sentences("“开头。”结尾”。下一句。") == ["“开头。”", "结尾”。", "下一句。"]


def test_a_bracket_open_for_too_long_counts_as_unclosed():
    text = "Start (" + "This is a sentence. " * 20 + "end) done. Last."
    sentences = split_sentences(text)
    assert sentences[0] == "Start (This is a sentence."
    assert sentences[-2:] == ["end) done.", "Last."]
    assert len(sentences) == 22


def test_line_breaks_end_sentences_even_inside_a_bracket():
    assert split_sentences("Open (bracket\nnew line) here. Done") == [
        "Open (bracket", "new line) here.", "Done"]
    assert split_sentences("（第一行\n第二行）。") == ["（第一行", "第二行）。"]


@pytest.mark.parametrize("text", [
    "It takes 3.5 days.", "Install v2.1 first.", "It costs 1,000.50 yuan.",
    "Come at 10:30 sharp.", "见第3.2条。", "The ratio was 3:2 overall.",
])
def test_numbers_are_not_cut(text):
    assert split_sentences(f"{text} Next.") == [text, "Next."]


@pytest.mark.parametrize("text", [
    "Fruit, e.g. apples, is sweet.", "That is, i.e. the first one.",
    "Apples, pears, etc. are sold here.", "Ask Mr. Smith today.", "Ask Mrs. Smith.",
    "Ask Dr. Who now.", "He lives on St. James Street.", "The U.S. government said so.",
    "Open at 9 a.m. and closed at 5 p.m. on weekdays.", "Room No. 5 is free.",
    "Spain vs. France tonight.", "It costs approx. 5 dollars.", "Acme Inc. sells it.",
    "Acme Ltd. sells it.", "Born on Jan. 5 and died Sept. 3 or Dec. 4.",
    "Written by J. R. R. Tolkien in 1954.", "E.g. this one.",
])
def test_abbreviations_do_not_end_a_sentence(text):
    assert split_sentences(f"{text} Next.") == [text, "Next."]


def test_an_abbreviation_ends_a_sentence_only_at_a_line_or_text_end():
    assert split_sentences("We sell apples, pears, etc.\nNew line") == [
        "We sell apples, pears, etc.", "New line"]
    assert split_sentences("We sell apples, pears, etc.") == ["We sell apples, pears, etc."]
    # Words that look like abbreviations only when capitalised still end sentences.
    assert split_sentences("I said no. Then left.") == ["I said no.", "Then left."]


def test_a_colon_ends_a_sentence_outside_brackets():
    assert split_sentences("Hours: 9 to 5 on weekdays. Place: Room 3") == [
        "Hours:", "9 to 5 on weekdays.", "Place:", "Room 3"]
    assert split_sentences("Open (hours: 9 to 5) daily.") == ["Open (hours: 9 to 5) daily."]
    assert split_sentences("时间：早九点。") == ["时间：早九点。"]


def test_chinese_sentence_ends():
    assert split_sentences("第一句。第二句！第三句？第四句；第五句") == [
        "第一句。", "第二句！", "第三句？", "第四句；", "第五句"]
    assert split_sentences("真的吗？！太好了！！好。") == ["真的吗？！", "太好了！！", "好。"]
    assert split_sentences("他想了想……我们走吧。") == ["他想了想……", "我们走吧。"]
    assert split_sentences("他说：“这个……”然后走了。") == ["他说：“这个……”然后走了。"]


def test_half_width_ends_need_no_space_as_before():
    assert split_sentences("Really?Yes!ok;fine") == ["Really?", "Yes!", "ok;", "fine"]
    assert split_sentences("Wait... what? Fine.") == ["Wait...", "what?", "Fine."]


def test_sentences_are_stripped_and_never_empty():
    assert split_sentences("  One.   Two.  \n\n  ") == ["One.", "Two."]
    assert split_sentences("") == []
    assert split_sentences(" \n ") == []
    assert split_sentences("。。") == ["。。"]


def test_a_cmrc_paragraph_is_cut_between_sentences_only():
    # Cut inside their brackets before (CMRC 2018 trial set).
    sentences = [
        "纽西兰鸡毛松（学名：Dacrycarpus dacrydioides；毛利语：kahikatea），"
        "是罗汉松科鸡毛松属的一种。",
        "爱普格新生儿评分(Apgar Score) 是美国医生维珍尼亚·阿普伽(Dr. Virginia Apgar)"
        "在1952年发明的。",
        "玩家可依胜场数爬牌位(依序为原石、铜牌、银牌) ，可选择经典等模式进行游戏。",
    ]
    assert split_sentences("".join(sentences)) == sentences


def test_splitting_stays_linear_on_stray_brackets():
    # Every closing mark looks for its opening one among many that never close.
    text = ("[" * 150 + ")" * 150) * 200 + "Word. " * 20000
    assert len(split_sentences(text)) == 20000
