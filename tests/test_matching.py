import pytest

from bot.matching import Lexicon, PhraseTable, detect_language, max_typos, menu_number, normalize


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  ¿Dónde está la CLÍNICA?? ", "donde esta la clinica"),
        ("helppp!!!", "help"),
        ("he's going to hurt me", "hes going to hurt me"),
        ("he\u2019s here \U0001f622\U0001f622", "hes here"),
        ("#1.", "1"),
        ("ESPAÑOL", "espanol"),
        ("\x00\x07 stop \t", "stop"),
        ("", ""),
    ],
)
def test_normalize_folds_case_accents_punctuation_and_emoji(raw, expected):
    assert normalize(raw) == expected


def test_typo_budget_grows_with_word_length_and_spares_short_words():
    assert [max_typos(w) for w in ("law", "sex", "test", "clinic", "hotlines")] == [0, 0, 1, 1, 2]


@pytest.mark.parametrize(("text", "number"), [("1", 1), ("#2", 2), ("3.", 3), ("two", 2), ("dos", 2),
                                              ("option 4", 4), ("opcion 5", 5)])
def test_menu_numbers_in_every_form_people_write(text, number):
    assert menu_number(tuple(normalize(text).split()), {"two": 2, "dos": 2}) == number


@pytest.mark.parametrize("text", ["2 kids", "i need 2", "1234", "", "two three"])
def test_a_number_inside_a_sentence_is_not_a_menu_choice(text):
    assert menu_number(tuple(normalize(text).split()), {"two": 2, "three": 3}) is None


def test_phrases_match_as_whole_words_only():
    table = PhraseTable.build({"out": ["get out"], "law": ["law"]})
    assert table.hits(("i", "want", "to", "get", "out")) == [("out", 2)]
    assert table.hits(("lawn", "getout")) == []


def lexicon() -> Lexicon:
    return Lexicon.build({
        "en": {"markers": ["my", "the", "where"], "topics": {"health": ["clinic", "testing"],
                                                             "hotlines": ["hotline"]}},
        "es": {"markers": ["mi", "donde", "la"], "topics": {"health": ["clinica", "prueba"]}},
    })


@pytest.mark.parametrize(("typo", "word"), [("hotlne", "hotline"), ("clnic", "clinic"),
                                            ("testng", "testing"), ("clinicc", "clinic")])
def test_small_typos_are_corrected_to_known_words(typo, word):
    assert lexicon().correct((typo,)) == (word,)


def test_short_and_unrelated_words_are_left_alone():
    assert lexicon().correct(("mt", "banana", "law")) == ("mt", "banana", "law")


def test_language_evidence_counts_markers_topic_words_and_spanish_marks():
    lex = lexicon()
    assert detect_language(("donde", "la", "clinica"), "dónde la clínica", lex) == {"en": 0, "es": 5}
    assert detect_language(("where", "the", "clinic"), "where the clinic", lex) == {"en": 3, "es": 0}
