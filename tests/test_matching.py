import pytest

from bot.engine.lexicon import Lexicon, PhraseTable, detect_language
from bot.engine.text import max_typos, menu_number, normalize


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
        "es": {"markers": ["mi", "donde", "la"], "topics": {"health": ["clinica", "prueba"]}, "letters": "ñ¿¡áíóú"},
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


# Reading free text with the shipped keyword tables: context changes what words mean.

from bot import ROOT  # noqa: E402
from bot.engine.matching import read  # noqa: E402
from bot.tables import load_flows  # noqa: E402

SHIPPED = load_flows(ROOT / "flows").lexicon


def reading(text: str):
    return read(SHIPPED.correct(tuple(normalize(text).split())), SHIPPED)


@pytest.mark.parametrize(("text", "danger"), [
    ("im not in danger rn, just want to leave him", None),
    ("no estoy en peligro ahora", None),
    ("he hit me years ago and i still think about it", None),
    ("he hit me years ago and now hes outside my door", "danger"),
    ("i was in danger before but im ok now", None),
    ("im safe now but hes outside my door", "danger"),
    ("no estoy a salvo, me va a matar", "danger"),
    ("no he has a gun", "danger"),
    ("no aguanto, me quiere matar", "danger"),
    ("mi ex me sigue y me quiere matar", "danger"),
    ("i have 2 kids and hes going to kill me", "danger"),
    ("i used to think about killing myself but im better now", None),
    ("i used to think about killing myself", "danger.selfharm"),
])
def test_negation_and_the_past_cancel_danger_but_present_danger_wins(text, danger):
    assert reading(text).danger == danger


@pytest.mark.parametrize(("text", "danger"), [
    ("its not an emergency, where do i report a massage place", None),  # "an" passed over
    ("no es una emergencia, solo quiero hablar", None),
    ("trying to stop using before it kills me", None),  # a thing, not a person
    ("esto me esta matando, quiero dejar de tomar", None),
    ("my feet are killing me, need a place to crash", None),
    ("quitting dope is killing me", None),
    ("en la cabeza me pego", "danger"),  # Spanish leaves out "he": a body part is not the doer
    ("not gonna hurt myself or anything, just depressed", None),  # "gonna" passed over
    ("hes going to kill me", "danger"),
    ("if i call 911 on a john will i get charged", None),  # a question about calling
    ("call 911", "danger"),  # a cry for help
])
def test_articles_are_passed_over_and_a_thing_doing_it_is_not_danger(text, danger):
    assert reading(text).danger == danger


@pytest.mark.parametrize(("text", "danger"), [
    ("my mom would literally kill me if she knew im getting tested", None),  # a parent's "kill" is a figure
    ("mi papa me mata si se entera que fui a la clinica", None),
    ("el casero me va a matar, debo la renta", None),
    ("he said he would kill me if i leave", "danger"),  # a person who is not a figure of speech
    ("hes gonna kill me if i dont pay by friday lol", None),  # a joke, and no "now"
    ("hes outside rn and says hes gonna kill me lol", "danger"),  # a joke does not outweigh "rn"
    ("lol i want to kill myself", "danger.selfharm"),  # never for thoughts of suicide
    ("me quiero morir de la verguenza", None),  # "of shame": a figure
    ("me quiero morir", "danger.selfharm"),
    ("how do i know if my daughter is being groomed", None),  # asking about it
    ("what counts as sexual assault under ct law", None),
    ("my daughter is being groomed by an older man right now", "danger.child"),  # telling it, now
    ("i think my neighbor is being sold", None),  # someone else: a report
    ("im being sold tonight", "danger"),
])
def test_figures_of_speech_and_questions_about_danger_are_not_danger(text, danger):
    assert reading(text).danger == danger


@pytest.mark.parametrize(("text", "year", "danger"), [
    ("he raped me and i got arrested the same night back in 2019, can that be erased", 2026, None),
    ("he raped me in 2026 and hes outside now", 2026, "danger.assault"),  # this year, and now
    ("since 2019 he beats me every day", 2026, "danger"),  # still going on
    ("he raped me and i got arrested the same night back in 2019, can that be erased", None, "danger.assault"),
])
def test_a_year_before_this_one_tells_danger_as_past(text, year, danger):
    assert read(SHIPPED.correct(tuple(normalize(text).split())), SHIPPED, year).danger == danger


@pytest.mark.parametrize(("text", "topic"), [
    ("can my prostitution charges get cleared? he made me do it", "law.vacate"),
    ("quiero borrar los cargos de cuando el me obligaba a trabajar", "law.vacate"),
    ("como se si a mi amiga la estan obligando", "report.signs"),
    ("he made me do it and keeps all my money", "out.exit"),  # no request: the story is the topic
])
def test_a_request_beats_the_story_around_it(text, topic):
    assert reading(text).topics[0][0] == topic


@pytest.mark.parametrize(("text", "topic"), [
    ("he takes my money and makes me work", "out.exit"),  # the texter's own story
    ("theres a girl at my job, her uncle takes her money and makes her work", "report"),  # someone else's
    ("mi chulo me quita el dinero", "out.exit"),
    ("a mi prima su chulo le quita el dinero", "report"),
])
def test_the_same_story_told_of_someone_else_is_a_report(text, topic):
    assert reading(text).topics[0][0] == topic


@pytest.mark.parametrize(("text", "danger"), [
    ("the client forced me, im bleeding", "danger.assault"),  # the assault page, which also says 911
    ("un cliente me forzo hace rato y estoy sangrando", "danger.assault"),
    ("hes outside and im bleeding", "danger"),
    ("he forced me and i want to die", "danger.selfharm"),  # self-harm still wins
])
def test_a_specific_danger_page_wins_over_the_general_one(text, danger):
    assert reading(text).danger == danger


def test_danger_told_as_past_leads_to_someone_to_talk_to():
    assert reading("i was raped years ago and never told anyone").topics[0][0] == "out.counseling"


@pytest.mark.parametrize(("text", "danger"), [
    ("im 15 and he wont let me leave", "danger.child"),
    ("theres a 14 yr old girl at the motel with grown men", "danger.child"),
    ("mi hija de 16 no ha vuelto y un tipo la esta vendiendo", "danger.child"),
    ("im 15 and he says i owe him so i have to work tonight", "danger.child"),  # a teen being sold
    ("theres a girl maybe 12 in room 208 and grown men keep going in", "danger.child"),
    ("my 14yo ran off w some guy she met on insta", "danger.child"),  # "14yo" is "14 yo"
    ("im 25 and he says i owe him so i have to work tonight", None),
    ("my daughter is 15 and wants to get tested", None),
    ("i have 2 kids and need food", None),
])
def test_a_child_or_teen_in_danger_goes_to_the_child_line(text, danger):
    assert reading(text).danger == danger


def test_health_questions_from_teens_go_to_the_under_18_page():
    assert reading("im 16 can i get tested without my mom knowing").topics[0][0] == "health.young"


@pytest.mark.parametrize(("text", "danger"), [
    ("someone followed me from the store", "danger"),  # English matches by stem: follow
    ("me quiero matar", "danger.selfharm"),  # Spanish danger matches as written:
    ("me quiere matar", "danger"),  # "I want to kill myself" is not "he wants to kill me"
    ("me pegaba antes pero ya me fui", None),
])
def test_english_matches_by_stem_and_spanish_danger_as_written(text, danger):
    assert reading(text).danger == danger


@pytest.mark.parametrize(("text", "danger"), [
    ("ya me quiero quitar la vida", "danger.selfharm"),  # the table has "quitarme la vida"
    ("quiere matarme", "danger"),  # the table has "me quiere matar"
    ("esta siguiendome", "danger"),  # the table has "me esta siguiendo"
    ("me voy a cortar", "danger.selfharm"),  # "cortarme", said by "I"
    ("me van a cortar la luz si no pago", None),  # "they will cut off my power"
    ("en el trabajo me pegan", "danger"),  # the table has "me pega": said of several people
    ("no me pagan", None),  # and "pegan" did not make "pagan" a typo
])
def test_a_spanish_pronoun_matches_before_the_verb_or_on_its_end(text, danger):
    assert reading(text).danger == danger


@pytest.mark.parametrize(("text", "expected"), [
    ("u", ("you",)), ("pls help rn", ("please", "help", "right", "now")), ("q", ("que",)),
    ("thinking", ("thinking",)), ("taking", ("taking",)),  # not "drinking", not "making"
    ("tesitng", ("testing",)),  # a swap of two letters is one typo
    ("hes killin me", ("hes", "killing", "me")),  # a dropped letter, even where "killin" is a common word
    ("toy escondia", ("estoy", "escondida")),
    ("me kiero kitar la vida", ("me", "quiero", "quitar", "la", "vida")),  # "k" for "qu"
])
def test_shorthand_is_spelled_out_and_typos_keep_their_first_letter(text, expected):
    assert SHIPPED.correct(tuple(normalize(text).split())) == expected


@pytest.mark.parametrize("text", ["911", "emergency", "EMERGENCIA"])
def test_alarm_words_alone_are_danger(text):
    assert reading(text).danger == "danger"


@pytest.mark.parametrize("text", ["emergency food pantry open on sunday", "what does 911 do if i call about my friend"])
def test_alarm_words_in_a_longer_question_are_not(text):
    assert reading(text).danger is None
