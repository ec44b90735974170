"""Spanish grammar the keyword tables need: a phrase written once ("me quiere matar") also
matches its clitic forms ("quiere matarme", "matandome")."""

from __future__ import annotations

import re

# Spanish puts an object pronoun either before the verb phrase or on the end of its
# infinitive or gerund: "me quiere matar" = "quiere matarme", "me esta siguiendo" =
# "esta siguiendome". Each Spanish phrase is also matched in its other order.
CLITICS = ("me", "te", "nos", "la", "lo", "le", "les", "las", "los", "se")
# The verbs a pronoun climbs over most, for phrases that start with "quitarme", "siguiendome".
# Only "I" verbs before an infinitive: "quitarme la vida" is "me quiero quitar la vida", but
# "cortarme" is not "me van a cortar (la luz)".
CLIMB_INFINITIVE = tuple(tuple(h.split()) for h in (
    "quiero", "voy a", "puedo", "tengo que", "acabo de", "trato de", "pienso", "necesito"))


CLIMB_GERUND = tuple(tuple(h.split()) for h in (
    "estoy", "esta", "estan", "anda", "andan", "sigue", "siguen", "viene", "vienen"))


_NONFINITE = re.compile(r"^[a-z]{2,}(ar|er|ir|ando|iendo|yendo)$")
_NONFINITE_CLITIC = re.compile(r"^([a-z]{2,}(?:ar|er|ir|ando|iendo|yendo))(" + "|".join(CLITICS) + ")$")


def clitic_variants(tokens: tuple[str, ...]) -> list[tuple[str, ...]]:
    """The phrase with its object pronoun moved to the other place Spanish allows.

    >>> clitic_variants(("me", "quiere", "matar"))
    [('quiere', 'matarme')]
    >>> clitic_variants(("quiero", "quitarme", "la", "vida"))
    [('me', 'quiero', 'quitar', 'la', 'vida')]
    >>> clitic_variants(("me", "va", "a", "matar"))
    [('va', 'a', 'matarme')]
    >>> ("me", "quiero", "quitar", "la", "vida") in clitic_variants(("quitarme", "la", "vida"))
    True
    """
    found = []
    moved = _NONFINITE_CLITIC.match(tokens[0]) if tokens else None
    if moved:  # "quitarme la vida": "me quiero quitar la vida", "me voy a quitar la vida"...
        verb, clitic = moved.groups()
        heads = CLIMB_GERUND if verb.endswith("ndo") else CLIMB_INFINITIVE
        found.extend((clitic, *head, verb, *tokens[1:]) for head in heads)
    for i, token in enumerate(tokens):
        j = i + 2 + (tokens[i + 2 : i + 3] == ("a",))  # "me va a matar": past the "a"
        if token in CLITICS and j < len(tokens) and _NONFINITE.match(tokens[j]):
            found.append(tokens[:i] + tokens[i + 1 : j] + (tokens[j] + token,) + tokens[j + 1 :])
        moved = _NONFINITE_CLITIC.match(token)
        start = i - 1 - (i >= 2 and tokens[i - 1] == "a")  # the verb it hangs on: "va a matarme"
        if moved and start >= 0 and tokens[start] not in CLITICS:
            verb, clitic = moved.groups()
            found.append(tokens[:start] + (clitic,) + tokens[start:i] + (verb,) + tokens[i + 1 :])
    return found


def spanish_variants(tokens: tuple[str, ...]) -> list[tuple[str, ...]]:
    """The phrase said by several people, then each with its pronoun moved.

    "me pega" (he hits me) is also "me pegan" (they hit me); "me esta siguiendo", "me estan siguiendo".
    >>> spanish_variants(("me", "pega"))
    [('me', 'pegan')]
    """
    plural = tuple(word + "n" if i and tokens[i - 1] in CLITICS and len(word) >= 3 and word[-1] in "ae" else word
                   for i, word in enumerate(tokens))
    forms = [tokens] + ([plural] if plural != tokens else [])
    found = [variant for form in forms for variant in clitic_variants(form)]
    return forms[1:] + [variant for variant in dict.fromkeys(found) if variant not in forms]
