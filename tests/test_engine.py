"""engine.step, the order of its rules, and the promises it keeps, in both languages."""

from __future__ import annotations

import pytest

from bot import ROOT, directory
from bot.engine.conversation import EXPIRY_SECONDS, State, step
from bot.engine.matching import read
from bot.engine.text import sentence_words
from bot.tables import context, load_flows
from bot.web.replies import Renderer

CONTEXT = context()  # the place resolver step needs

NOW = 1_800_000_000.0  # a fixed clock: the engine never reads one


@pytest.fixture(scope="module")
def flows():
    return load_flows(ROOT / "flows")


def talk(flows, *texts, state=None, now=NOW):
    """Replay texts, a minute apart; the last (state, replies)."""
    replies = ()
    for i, text in enumerate(texts):
        state, replies = step(state, text, flows, CONTEXT, now + 60 * i)
    return state, replies


def nodes(replies):
    return [r.node for r in replies]


@pytest.mark.parametrize("word", ["STOP", "stop", "Stop ", "STOPALL", "unsubscribe", "CANCEL", "end", "quit",
                                  "REVOKE", "optout", "stop."])
def test_opt_out_words_get_no_reply_and_clear_the_state(flows, word):
    state, _ = talk(flows, "hi", "1")
    assert step(state, word, flows, CONTEXT, NOW + 600) == (None, ())


def test_stop_inside_a_sentence_is_not_an_opt_out(flows):
    _, replies = talk(flows, "please make him stop hurting me")
    assert replies, "a sentence with 'stop' in it still gets an answer"


@pytest.mark.parametrize(("text", "lang", "node"), [
    ("911", "en", "danger"),
    ("help me now", "en", "danger"),
    ("he's going to hurt me", "en", "danger"),
    ("estoy en peligro", "es", "danger"),
    ("I want to kill myself", "en", "danger.selfharm"),
    ("me quiero morir", "es", "danger.selfharm"),
])
def test_danger_is_answered_first_from_any_point(flows, text, lang, node):
    befores = [["hi"], ["hi", "2"], ["hi", "3", "1"]] if lang == "en" else [["hola"], ["hola", "3", "1"]]
    for before in [[], *befores]:
        state, replies = talk(flows, *before, text)
        assert nodes(replies) == [node]
        assert replies[0].lang == lang
        assert "911" in replies[0].text or "emergency" in replies[0].resources


def test_danger_reply_says_911_first_then_lists_a_line_to_text(flows):
    _, replies = talk(flows, "he is going to kill me")
    assert replies[0].text.splitlines()[0].startswith("Call 911")
    assert replies[0].resources == ("danger", "hotline.crisis")  # the lines to text, and 988 for a crisis


@pytest.mark.parametrize("word", ["MENU", "menu", "0", "Menú"])
def test_menu_and_zero_go_home_from_anywhere(flows, word):
    state, replies = talk(flows, "hi", "2", "1", word)
    assert nodes(replies) == ["welcome"]
    assert state.node == "welcome"


def test_back_retraces_steps_then_stops_at_the_menu(flows):
    state, _ = talk(flows, "hi", "2", "1")
    trail = [state.node]
    for _ in range(4):
        state, replies = step(state, "BACK", flows, CONTEXT, NOW + 600)
        trail.append(replies[0].node)
    assert trail[1] == "health"
    assert trail[2] == "welcome" and trail[-1] == "welcome"


@pytest.mark.parametrize(("word", "lang"), [("HELP", "en"), ("info", "en")])
def test_help_gives_program_name_911_and_opt_out(flows, word, lang):
    _, replies = talk(flows, word)
    assert nodes(replies) == ["help"]
    assert "911" in replies[0].text and "STOP" in replies[0].text


@pytest.mark.parametrize(("word", "lang"), [("FORGET", "en"), ("borrar", "es"), ("BORRAR", "es")])
def test_forget_wipes_the_state_but_the_language_and_says_how_to_delete_the_thread(flows, word, lang):
    state, replies = talk(flows, "hola" if lang == "es" else "hi", "2", word)
    assert state == State("welcome", lang, state.at)  # no page, no steps back, no card: the language only
    assert nodes(replies) == ["forget"] and replies[0].lang == lang
    _, replies = talk(flows, "1", state=state)
    assert nodes(replies) == ["hotlines"] and replies[0].lang == lang


def test_a_number_on_a_page_without_options_means_the_last_menu_shown(flows):
    state, replies = talk(flows, "hi", "3", "2")  # getting out -> a safe place to stay (no options of its own)
    assert nodes(replies) == ["out.shelter"] and not flows.nodes["out.shelter"].options
    state, replies = talk(flows, "3", state=state)  # the third item of "getting out", seen one text ago
    assert nodes(replies) == ["out.counseling"]


def test_language_switch_at_any_point_keeps_the_place(flows):
    state, _ = talk(flows, "hi", "2")
    state, replies = step(state, "ESPAÑOL", flows, CONTEXT, NOW + 600)
    assert (state.node, state.lang) == ("health", "es")
    assert replies[0].lang == "es" and replies[0].node == "health"
    state, replies = step(state, "english", flows, CONTEXT, NOW + 660)
    assert (state.node, state.lang, replies[0].lang) == ("health", "en", "en")


@pytest.mark.parametrize("text", ["hola", "Hola, necesito ayuda", "dónde está la clínica", "clinica"])
def test_spanish_is_picked_up_from_the_first_text(flows, text):
    state, replies = talk(flows, text)
    assert state.lang == "es" and replies[0].lang == "es"


def test_language_stays_put_for_numbers_and_shared_words(flows):
    state, _ = talk(flows, "hola")
    for text in ["1", "0", "menu", "ok"]:
        state, replies = step(state, text, flows, CONTEXT, NOW + 60)
        assert replies[0].lang == "es"


@pytest.mark.parametrize("choice", ["2", "2.", "#2", "two", " 2 ", "option 2"])
def test_menu_choices_in_every_form(flows, choice):
    _, replies = talk(flows, "hi", choice)
    assert nodes(replies) == ["health"]


def test_spanish_number_words_choose_too(flows):
    _, replies = talk(flows, "hola", "dos")
    assert nodes(replies) == ["health"] and replies[0].lang == "es"


@pytest.mark.parametrize(("text", "node"), [
    ("hotline", "hotlines"),
    ("clinic", "health"),
    ("where can i get testing", "health.testing"),
    ("I want to get out", "out.exit"),
    ("legal", "law"),
    ("report", "report"),
    ("emergency", "danger"),
    ("prueba", "health.testing"),
    ("abogado", "law.help"),
])
def test_topic_words_work_as_a_first_text_and_later(flows, text, node):
    _, first = talk(flows, text)
    _, later = talk(flows, "hi", "1", text)
    assert nodes(first)[0].split(".")[0] == node.split(".")[0]
    assert nodes(later) == nodes(first)


@pytest.mark.parametrize(("typo", "topic"), [("hotlne", "hotlines"), ("clnic", "health"),
                                              ("clinc", "health"), ("abogadoo", "law")])
def test_small_typos_still_find_the_topic(flows, typo, topic):
    _, replies = talk(flows, typo)
    assert replies[0].topic == topic


@pytest.mark.parametrize("text", ["asdfgh", "7", "", "\U0001f600", "???", "banana split"])
def test_anything_not_understood_gets_the_fallback_menu_with_911(flows, text):
    state, replies = talk(flows, "hi", text)
    assert nodes(replies) == ["fallback"]
    assert "911" in replies[0].text
    assert replies[0].menu.startswith("1 ")
    assert state.node == "welcome"


@pytest.mark.parametrize("text", ["hi", "", "\U0001f44b", "xyz"])
def test_a_first_text_gets_the_welcome_with_911(flows, text):
    state, replies = talk(flows, text)
    assert nodes(replies) == ["welcome"] and "911" in replies[0].text
    assert state == State("welcome", "en", int(NOW // 60))


def test_state_older_than_30_minutes_is_ignored(flows):
    state, _ = talk(flows, "hi", "2")
    _, replies = step(state, "1", flows, CONTEXT, NOW + 60 + EXPIRY_SECONDS + 60)
    assert nodes(replies) == ["welcome"], "after 30 minutes, '1' starts over instead of choosing"
    _, replies = step(state, "1", flows, CONTEXT, NOW + 60 + EXPIRY_SECONDS - 60)
    assert nodes(replies) == ["health.testing"]


def test_a_state_naming_a_node_that_no_longer_exists_starts_over(flows):
    _, replies = step(State("gone.node", "en", int(NOW // 60)), "1", flows, CONTEXT, NOW)
    assert nodes(replies) == ["welcome"]


def test_every_reply_ends_with_a_next_step(flows):
    for node_id in flows.nodes:
        for lang in ("en", "es"):
            menu = flows.menu(node_id, lang)
            node = flows.nodes[node_id]
            assert menu or node.resources, f"{node_id} ({lang}) leaves the person with nothing to do"


def test_when_two_topics_tie_the_line_asks_which_one_and_the_answer_picks_it(flows):
    state, replies = talk(flows, "lawyer or clinic")
    assert nodes(replies) == ["ask"]
    assert replies[0].menu.splitlines()[:2] == ["1 Legal help", "2 Health"]
    assert state.offer == ("law.help", "health")
    state, replies = step(state, "2", flows, CONTEXT, NOW + 60)
    assert nodes(replies) == ["health"] and state.offer == ()


@pytest.mark.parametrize(("text", "node"), [("this number hotline", "hotlines"),
                                            ("esta tarjeta, asesoria legal", "law.help")])
def test_a_tie_with_the_welcome_goes_to_the_topic_as_no_menu_names_the_welcome(flows, text, node):
    reading_ties = [score for _, score in flows_reading(flows, text)[:2]]
    assert len(set(reading_ties)) == 1, "the text must tie a topic with the welcome"
    _, replies = talk(flows, text)
    assert nodes(replies) == [node]


def flows_reading(flows, text):
    return read(flows.lexicon.correct(sentence_words(text)), flows.lexicon).topics


def test_an_offer_is_forgotten_after_any_other_answer(flows):
    state, _ = talk(flows, "lawyer or clinic")
    state, replies = step(state, "hotline", flows, CONTEXT, NOW + 60)
    assert nodes(replies) == ["hotlines"] and state.offer == ()


def test_danger_wins_over_any_topic(flows):
    _, replies = talk(flows, "i need a lawyer and a clinic but hes outside my door right now")
    assert nodes(replies) == ["danger"]


@pytest.mark.parametrize(("lang_text", "place_text", "town"), [
    ("hi", "im near 06106", "Hartford"),
    ("hola", "west hartfrod", "West Hartford"),
    ("hola", "Nueva Bretaña", "New Britain"),
    ("hi", "WeHa", "West Hartford"),
    ("hi", "East Htfd", "East Hartford"),
])
def test_a_town_or_zip_answers_with_nearby_services_and_is_not_kept(flows, lang_text, place_text, town):
    state, _ = talk(flows, lang_text, "2", "1")
    assert flows.nodes[state.node].resources
    after, replies = step(state, place_text, flows, CONTEXT, NOW + 600)
    assert replies[0].near == town and replies[0].node == state.node
    assert after.node == state.node
    assert town not in repr(after) and "06106" not in repr(after)


@pytest.mark.parametrize(("text", "node", "town"), [
    ("clinic in new britain", "health", "New Britain"),
    ("shelter hartford", "out.shelter", "Hartford"),
    ("donde me hago la prueba en hartford", "health.testing", "Hartford"),
    ("necesito un abogado cerca de nueva bretaña", "law.help", "New Britain"),
    ("i need a union job and food", "out.needs", None),  # a town's name that is a word too, with no "in"
])
def test_a_place_in_the_same_text_as_the_request_is_understood(flows, text, node, town):
    state, replies = talk(flows, text)
    assert replies[0].node.startswith(node) and replies[0].near == town
    assert town is None or town not in repr(state)


def test_a_place_outside_connecticut_is_answered_as_such_and_the_page_stays(flows):
    state, _ = talk(flows, "i need a shelter")
    after, replies = step(state, "boston", flows, CONTEXT, NOW + 60)
    assert replies[0].outside and replies[0].node == "out.shelter" and after.node == "out.shelter"


def test_a_place_the_line_does_not_know_keeps_the_page_and_still_gives_911_and_988(flows):
    state, _ = talk(flows, "i need a shelter")
    after, replies = step(state, "Narnia", flows, CONTEXT, NOW + 60)
    assert after.node == "out.shelter" and "988" in replies[0].text and "Connecticut" in replies[0].text


def test_a_town_on_a_page_without_services_is_not_a_place(flows):
    _, replies = talk(flows, "hi", "hartford")
    assert replies[0].near is None


def test_after_a_flow_edit_back_and_offers_skip_nodes_that_are_gone(flows):
    state = State("health", "es", int(NOW // 60), trail=("welcome", "gone.node"), offer=("gone.node", "law"))
    back, replies = step(state, "BACK", flows, CONTEXT, NOW)
    assert nodes(replies) == ["welcome"] and replies[0].lang == "es"
    _, replies = step(state, "1", flows, CONTEXT, NOW)
    assert nodes(replies) == ["law"]


@pytest.mark.parametrize("text", ["911 911 911 911", "please call 911 now", "llamen al 911 por favor"])
def test_911_in_any_form_is_danger(flows, text):
    _, replies = talk(flows, "hi", text)
    assert nodes(replies) == ["danger"]


def test_a_crisis_in_words_no_keyword_names_reaches_someone_to_talk_to_with_988(flows):
    """The text model reads what the tables do not: a heavy feeling is counselling, which lists 988."""
    state, replies = talk(flows, "everything feels so heavy lately idk")
    assert nodes(replies) == ["out.counseling"] and replies[0].by == "model"
    renderer = Renderer(flows, directory.snapshot_from_data(ROOT / "data"))
    assert "988" in "\n".join(renderer.messages(replies, NOW))


@pytest.mark.parametrize(("text", "node"), [
    ("hi", "welcome"), ("hola quien es", "welcome"), ("?", "welcome"),
    ("the weather was nice on sunday afternoon", "fallback"),  # not understood: 911 and 988 all the same
    ("ya nada tiene sentido la neta", "fallback"),
])
def test_a_longer_first_text_the_line_does_not_understand_gets_911_and_988(flows, text, node):
    state, replies = talk(flows, text)
    assert nodes(replies) == [node] and state.node == "welcome"
    message = replies[0].text + "\n" + replies[0].menu
    assert "911" in message
    assert ("988" in message) == (node == "fallback")
    assert replies[0].menu == flows.menu("welcome", replies[0].lang)  # the main menu either way


@pytest.mark.parametrize(("text", "node", "tag"), [
    ("segura por favor", "welcome", "safe-card-es"),  # the card word with more words
    ("SEGRUA", "welcome", "safe-card-es"),  # with a typo
    ("salud hola", "health", "clinic-poster-es"),
    ("safe i need a shelter tonight", "out.shelter", "safe-card"),  # a request after it: answered, counted
])
def test_a_card_word_with_more_words_or_a_typo_starts_its_campaign(flows, text, node, tag):
    state, replies = talk(flows, text)
    assert replies[0].node == node and state.campaign == tag


def test_a_common_word_near_a_card_word_is_not_the_card_word(flows):
    state, replies = talk(flows, "seguro medico")  # "seguro" is one letter from SEGURA
    assert replies[0].node == "out.needs" and state.campaign == ""


@pytest.mark.parametrize(("text", "lang", "answer"), [
    ("thanks", "en", "We're here"), ("ok", "en", "We're here"), ("yes", "en", "We're here"),
    ("gracias", "es", "Aquí estamos"), ("si", "es", "Aquí estamos"),
])
def test_thanks_or_ok_in_a_conversation_gets_a_kind_reply_and_keeps_the_page(flows, text, lang, answer):
    first = "i need a clinic" if lang == "en" else "necesito una clinica"
    state, replies = talk(flows, first, text)
    assert state.node == "health" and replies[0].text.startswith(answer) and replies[0].lang == lang
    assert replies[0].menu == flows.menu("health", lang)  # the page's own options again


def test_a_spanish_sentence_after_an_english_start_is_answered_in_spanish(flows):
    state, replies = talk(flows, "hi", "necesito un lugar donde dormir esta noche")
    assert replies[0].node == "out.shelter" and replies[0].lang == "es" and state.lang == "es"


@pytest.mark.parametrize(("text", "lang"), [("yes", "en"), ("si", "es")])
def test_yes_to_the_welcome_which_asks_danger_gets_the_danger_page(flows, text, lang):
    state, replies = talk(flows, "hi" if lang == "en" else "hola", text)
    assert replies[0].node == "danger" and state.node == "danger" and replies[0].lang == lang


def test_thanks_on_the_main_menu_still_says_how_to_reach_911(flows):
    state, replies = talk(flows, "hi", "ok")
    assert state.node == "welcome" and "911" in replies[0].text + replies[0].menu


def test_thanks_after_which_one_did_you_mean_forgets_the_question(flows):
    state, replies = talk(flows, "lawyer or clinic", "ok")
    assert state.offer == ()
    _, replies = talk(flows, "1", state=state)
    assert nodes(replies) == ["hotlines"]  # the main menu's first item, as shown


def test_a_card_word_before_words_the_line_does_not_understand_keeps_911_and_988(flows):
    state, replies = talk(flows, "SAFE ya nada tiene sentido la neta")
    assert nodes(replies) == ["fallback"] and "988" in replies[0].text and state.campaign == "safe-card"
