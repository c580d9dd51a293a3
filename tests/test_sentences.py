"""Sentence splitting: abbreviations, decimals, ellipses, quotes, lists, Japanese, paragraphs."""

from __future__ import annotations

import pytest

from analyzer.scoring.sentences import iter_sentences, split_sentences


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Nvidia Corp. reported revenue of $35.1 billion in the third quarter. Shares rose 5%.",
            [
                "Nvidia Corp. reported revenue of $35.1 billion in the third quarter.",
                "Shares rose 5%.",
            ],
        ),
        (
            "Apple Inc. said on Jan. 5 that sales rose. The U.S. market grew 3.5%.",
            ["Apple Inc. said on Jan. 5 that sales rose.", "The U.S. market grew 3.5%."],
        ),
        (
            "Dr. Lisa Su spoke first. Mr. Huang followed her.",
            ["Dr. Lisa Su spoke first.", "Mr. Huang followed her."],
        ),
        (
            "Chips, e.g. GPUs and TPUs, sold out. Prices rose.",
            ["Chips, e.g. GPUs and TPUs, sold out.", "Prices rose."],
        ),
        (
            "It ranked No. 1 in the survey. See Fig. 3 for details.",
            ["It ranked No. 1 in the survey.", "See Fig. 3 for details."],
        ),
        (
            "The company operates mainly in the U.S. The rest is in Europe.",
            ["The company operates mainly in the U.S.", "The rest is in Europe."],
        ),
        (
            "The deal was signed by Acme Corp. It closes next month.",
            ["The deal was signed by Acme Corp.", "It closes next month."],
        ),
        (
            "J. P. Morgan and John D. Rockefeller built banks. Both became famous.",
            ["J. P. Morgan and John D. Rockefeller built banks.", "Both became famous."],
        ),
        (
            "Version 2.0 of example.com launched at 3.5x the speed. Users noticed.",
            ["Version 2.0 of example.com launched at 3.5x the speed.", "Users noticed."],
        ),
    ],
)
def test_abbreviations_and_decimals(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_question_and_exclamation_marks() -> None:
    assert split_sentences("Is this real? Yes! It is. Wow?! Really.") == [
        "Is this real?",
        "Yes!",
        "It is.",
        "Wow?!",
        "Really.",
    ]


def test_ellipses_split_only_before_a_new_sentence() -> None:
    assert split_sentences(
        "Wait for it... the biggest launch ever. It failed… Then it recovered."
    ) == [
        "Wait for it... the biggest launch ever.",
        "It failed…",
        "Then it recovered.",
    ]


def test_quotes_stay_with_their_sentence() -> None:
    assert split_sentences('He said "this is huge." Then he left. "Is it?" she asked.') == [
        'He said "this is huge."',
        "Then he left.",
        '"Is it?" she asked.',
    ]
    assert split_sentences("She called it “the best chip ever.” Analysts disagreed.") == [
        "She called it “the best chip ever.”",
        "Analysts disagreed.",
    ]


def test_bullet_lists_become_items_without_markers() -> None:
    text = "Highlights:\n- Revenue rose 10%\n* Margins expanded\n• New fab opened\n1. First item\n2) Second item"
    assert split_sentences(text) == [
        "Highlights:",
        "Revenue rose 10%",
        "Margins expanded",
        "New fab opened",
        "First item",
        "Second item",
    ]


def test_a_wrapped_bullet_continues_on_the_next_line() -> None:
    text = "- Revenue rose 10% in the quarter, driven by\n  data center sales\n- Margins expanded"
    assert split_sentences(text) == [
        "Revenue rose 10% in the quarter, driven by data center sales",
        "Margins expanded",
    ]


def test_paragraphs_headings_and_soft_wraps() -> None:
    text = (
        "Risk Factors\n"
        "The company said on\nMonday that revenue rose\nsharply. Costs fell.\n\n"
        "A new paragraph without a final stop\n\nLast one."
    )
    assert split_sentences(text) == [
        "Risk Factors",
        "The company said on Monday that revenue rose sharply.",
        "Costs fell.",
        "A new paragraph without a final stop",
        "Last one.",
    ]


def test_hyphenated_line_wrap_is_rejoined() -> None:
    assert split_sentences("The infra-\nstructure grew. Good.") == [
        "The infrastructure grew.",
        "Good.",
    ]


def test_windows_newlines() -> None:
    assert split_sentences("First line.\r\n\r\nSecond line.") == ["First line.", "Second line."]


def test_japanese_terminators() -> None:
    text = "売上高は前年比20%増加した。今後も成長が見込まれる！本当か？そうだ"
    assert split_sentences(text) == [
        "売上高は前年比20%増加した。",
        "今後も成長が見込まれる！",
        "本当か？",
        "そうだ",
    ]


def test_japanese_quotes_are_not_split_inside() -> None:
    assert split_sentences("彼は「素晴らしい。最高だ。」と言った。株価は上がった。") == [
        "彼は「素晴らしい。最高だ。」と言った。",
        "株価は上がった。",
    ]


def test_japanese_lines_join_without_spaces() -> None:
    assert split_sentences("データセンター向けの\n需要が伸びた。") == [
        "データセンター向けの需要が伸びた。"
    ]


def test_mixed_japanese_and_english() -> None:
    assert split_sentences(
        "NVIDIAの売上は過去最高だった。Shares rose. 次の四半期も期待される。"
    ) == [
        "NVIDIAの売上は過去最高だった。",
        "Shares rose.",
        "次の四半期も期待される。",
    ]


@pytest.mark.parametrize("text", ["", "   ", "\n\n\n", "- \n* \n•", "...", "---"])
def test_no_sentences_in_blank_or_punctuation_only_text(text: str) -> None:
    assert split_sentences(text) == []


def test_overlong_run_on_is_cut_at_clause_breaks_without_losing_words() -> None:
    clause = "the network keeps adding validators across many regions"
    text = ", ".join([clause] * 40) + "."
    pieces = split_sentences(text, max_chars=200)
    assert len(pieces) > 1
    assert all(len(p) <= 200 for p in pieces)
    assert " ".join(pieces).split() == text.split()


def test_overlong_text_without_spaces_is_cut_hard() -> None:
    pieces = split_sentences("あ" * 1000, max_chars=300)
    assert [len(p) for p in pieces] == [300, 300, 300, 100]


def test_iter_sentences_is_lazy_and_rejects_non_strings() -> None:
    iterator = iter_sentences("One. Two. Three.")
    assert next(iterator) == "One."
    with pytest.raises(TypeError):
        split_sentences(None)  # type: ignore[arg-type]


def test_nothing_is_lost_on_a_realistic_paragraph() -> None:
    text = (
        "SANTA CLARA, Calif., Nov. 20, 2024 -- NVIDIA Corp. (NASDAQ: NVDA) today reported revenue for the "
        "third quarter ended Oct. 27, 2024, of $35.1 billion, up 17% from the previous quarter. "
        '"The age of AI is in full steam," said Jensen Huang. Revenue is expected to be $37.5 billion, '
        "plus or minus 2%."
    )
    sentences = split_sentences(text)
    assert len(sentences) == 3
    assert sentences[1] == '"The age of AI is in full steam," said Jensen Huang.'
    assert " ".join(sentences).split() == text.split()


def test_trailing_emoji_stays_with_its_sentence() -> None:
    assert split_sentences("Going to the moon! 🚀🚀 Buy now.") == [
        "Going to the moon! 🚀🚀",
        "Buy now.",
    ]
