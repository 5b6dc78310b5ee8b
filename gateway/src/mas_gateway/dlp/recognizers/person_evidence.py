"""Evidence for and against a span being a person's name, scored together.

Positive evidence: spaCy tagged the span PERSON, its words are in the name lexicon
(`lexicon`), a word nearby points at a person ("my kid X", "X shouted", "thanks X",
"X's"). Negative evidence: a street, place or organisation word beside it ("X Strasse",
"Rue X", "X Inc"), a house number before it, spaCy tagging it a place or an
organisation, an everyday English word standing at the start of a sentence ("Will you
..."). Each source adds to a score; a name alone in a sentence is reported when two
kinds of evidence agree (lexicon and spaCy, or either with a person cue).
"""

from __future__ import annotations

import regex

from .lexicon import Lexicon, fold

__all__ = [
    "LEET",
    "PLACE_LABELS",
    "SCORE",
    "greeted",
    "has_negative",
    "multi_word_score",
    "person_cue",
    "single_word_score",
]

# Weights of each kind of evidence; a PERSON finding counts from the policy's threshold.
SCORE = {
    "ner": 0.35,
    "known": 0.45,
    "known_ambiguous": 0.05,
    "strong_cue": 0.25,
    "weak_cue": 0.15,
    "possessive": 0.15,
    "middle_initial": 0.2,
    "particle": 0.15,
    "other_label": -0.25,
    "other_label_cap": 0.55,
    "sentence_start_ambiguous": -0.2,
    "verb_shape": -0.3,
}

_CUE_BEFORE_STRONG = regex.compile(
    r"(?i:\b(?:mr|mrs|ms|mx|dr|prof|sir|madam|miss|aunt|auntie|uncle|grandma|grandpa|granny|"
    r"grandmother|grandfather|cousin|brother|sister|mom|mum|mother|dad|father|son|daughter|"
    r"kid|child|baby|wife|husband|partner|spouse|friend|neighbou?r|boss|colleague|coworker|"
    r"co-worker|roommate|flatmate|landlord|landlady|tenant|boyfriend|girlfriend|fianc[eé]e?|"
    r"nephew|niece|teacher|coach|mentor|tell|told|ask|asked|asking|call|called|email|emailed|"
    r"text|texted|ping|pinged|meet|met|meeting|cc|bcc|invite|invited|thank|thanks|hey|hi|"
    r"hello|dear|congrats|congratulate|remind|reminded|visit|visited|marry|married|hug|miss|"
    r"paid|pay|love|lunch with|dinner with|talked to|spoke to|spoke with|talk to|signed by|"
    r"shouted at|yelled at|screamed at|waved at|smiled at|laughed at|angry with|mad at|"
    r"did|can|could|would|should|does|has|have|will|"
    r"on behalf of|attn|attention|regards|cheers|best|sincerely)\b,?[ \t]*$)"
)
_CUE_BEFORE_WEAK = regex.compile(r"(?i:\b(?:with|and|to|for|by|from|or|cc:?)[ \t]*$)")
# Two capitalised words joined by "and": "X and Y are getting married".
_PAIR_BEFORE = regex.compile(r"(?P<other>\p{Lu}\p{Ll}+)[ \t]+and[ \t]+$")
# Names of firms joined by an ampersand: "Johnson & Johnson", "Marks & Spencer".
_FIRM_JOIN = regex.compile(r"[ \t]*&[ \t]*\p{Lu}")
_FIRM_JOIN_BEFORE = regex.compile(r"\p{Lu}[\p{L}.]*[ \t]*&[ \t]*$")
_PAIR_AFTER = regex.compile(r"[ \t]+and[ \t]+\p{Lu}\p{Ll}")
# A word followed by a determiner is a verb ("Ping the cluster", "Grant the team access").
_DETERMINER_AFTER = regex.compile(r"[ \t]+(?:the|a|an|your|our|all|every|its|it|them|us|me)\b")
# Right after a name: a birth date, an age, an identifier label, an e-mail address.
_RECORD_AFTER = regex.compile(
    r"[ \t]*(?:[(,:;-][ \t]*)?(?i:dob\b|d\.o\.b|born\b|date of birth|ssn\b|mrn\b|"
    r"age[d]?\s*\d|\d{1,3}\s*(?:y/?o\b|years? old)|<[\w.+-]+@)"
)
_POSSESSIVE = regex.compile(r"['\u2019]s\b")
# "X's phone", "X's place": a possessive before something people have.
_OWNED = regex.compile(
    r"['\u2019]s[ \t]+(?i:phone|social|ssn|email|e-mail|address|number|mobile|cell|wife|"
    r"husband|partner|son|daughter|kids?|children|mother|father|mom|mum|dad|brother|sister|"
    r"birthday|car|house|home|place|flat|apartment|room|account|card|dob|passport|licen[cs]e|"
    r"salary|boss|friend|dog|cat|office|desk|number)\b"
)
_PAST_AFTER = regex.compile(r"[ \t]+\p{Ll}{2,}ed\b")
_CUE_AFTER_STRONG = regex.compile(
    r"(?:[ \t]*,[ \t]*(?:who|whose|my|our|the)\b|[ \t]+(?i:said|says|told|tells|"
    r"asked|asks|shouted|yelled|screamed|called|calls|texted|wrote|writes|emailed|replied|"
    r"lost|forgot|forgets|works|worked|lives|lived|moved|is from|was from|comes from|"
    r"was born|turns|turned|paid|pays|signed|resigned|joined|wants|wanted|needs|needed|thinks|"
    r"thought|knows|knew|loves|loved|likes|liked|hates|went|came|left|got|gets|owes|owed|"
    r"married|starts|started|quit|agreed|promised|complained|admitted|refused|sent|brought|"
    r"visited|met|showed|shows|took|gave|gives|has a|had a|is my|is our|is his|is her|"
    r"is getting|are getting|is coming|"
    r"will join|will sign|will be|can pick|just called|just texted)\b)"
)
_CUE_AFTER_WEAK = regex.compile(r"[ \t]+(?i:is|was|has|had|and|will|can|did|does)\b")

# Words that make a capitalised word part of an address, a place or an organisation.
_PLACE_AFTER = regex.compile(
    r"[ \t]*-?[ \t]*(?:(?:Jr|Sr|Jnr|Snr)\.?[ \t]+)?"
    r"(?i:strasse|straße|str\.|street|st\.?|road|rd\.?|avenue|ave\.?|lane|ln\.?|"
    r"drive|boulevard|blvd|way|weg|gasse|allee|allé|platz|plaza|square|sq\.?|court|ct\.?|"
    r"place|terrace|close|crescent|park|bridge|tower|river|lake|mountains?|valley|county|"
    r"city|town|village|station|airport|hospital|clinic|university|college|school|academy|"
    r"institute|church|cathedral|museum|hotel|restaurant|cafe|café|inc\.?|llc|ltd\.?|gmbh|ag|"
    r"s\.?a\.?|plc|co\.|corp\.?|corporation|company|group|holdings|partners|associates|"
    r"systems|technologies|bank|capital|foundation|vej|gade|gatan|vägen|väg|gata|straat|laan|"
    r"plein|ulica|utca|caddesi|sokak|cesta|ulice|bypass|highway|hwy|parkway|pkwy|row|walk|"
    r"gardens|heights|hills|mews|wharf|quay|rise|grove|marina|beach|island|islands|bay|coast|"
    r"district|province|region|state|republic|kingdom|times|post|news|motors|airlines|"
    r"foods|pharma|labs|media|studios|records|mall|centre|center|market|arena|stadium|"
    r"theatre|theater|gallery|library|prison|airways|energy|insurance|holding|industries|"
    r"bridge|tunnel|canal|harbour|harbor|bend|bayou|path|point|estates?|villas?|springs|"
    r"falls|creek|ridge|meadows?|house|shares|stocks?|revenue|earnings|profits|"
    r"shareholders|sales|planning|wealth|solutions|consulting|services)(?![\p{L}])"
)
_PLACE_BEFORE = regex.compile(
    r"(?i:\b(?:rue|via|calle|rua|avenida|avenue|piazza|plaza|boulevard|bd|viale|corso|largo|"
    r"praça|praca|travessa|carrer|camino|chemin|quai|impasse|allée|ul\.?|ulica|mount|mt\.?|"
    r"lake|saint|port|fort|cape|upper|lower|university of|bank of|city of|state of|republic of|"
    r"hotel|hospital|church of|avenue of|street of|in|at|near|across|around|visit|visiting|"
    r"to visit|fly to|flew to|moved to|move to|trip to|travel to|travelled to|traveled to|"
    r"based in|lives in|born in|from the|is from|are from|was from|comes from|come from|"
    r"welcome to|greetings from|train to|bus to|flight to|flights to|drive to|road to|"
    r"route to|ticket to|tickets to|ferry to|weather in|hotels in|office in)[ \t]+"
    r"(?:(?:de|del|de la|des|du|di|da|dos|das|"
    r"der|la|le|les|los|las|el|of|the)[ \t]+)?$)"
)
# A word right after "<street word>, " is the town of an address ("12 Elm Row, Shawnee").
_AFTER_ADDRESS = regex.compile(
    r"(?i:\b(?:street|st|road|rd|avenue|ave|lane|ln|drive|dr|row|path|point|station|bend|"
    r"bayou|way|court|ct|place|pl|boulevard|blvd|park|square|sq|terrace|close|crescent|"
    r"estates?|circle|cir|trail|trl|highway|hwy|parkway|pkwy|plaza|strasse|straße|weg|"
    r"gasse|allee|rue|via|calle|rua|loop|pass|run|crossing|green|grove|hill|hills|"
    r"heights|walk|mews|ridge|creek|pike|alley|spur|junction|jct)\.?,[ \t]*$)"
)
_HOUSE_NUMBER = regex.compile(r"(?<![\d\-./:,])\b\d{1,5}[a-zA-Z]?[ \t]+$")
_STREET_SUFFIX = regex.compile(
    r"(?i:(?:strasse|straße|gatan|gata|vägen|gasse|allee|straat|laan|vej|gade|platz|"
    r"caddesi|sokak|utca|ulica|weg)$)"
)
_SENTENCE_START = regex.compile(r"(?:^|[.!?:;\n\"(]\s*|^\s*[-*•]\s*)$")

# Digits and symbols typed for letters in leetspeak.
LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
)


def person_cue(text: str, start: int, end: int) -> float:
    """Score from words before and after the span that point at a person."""
    before = text[max(0, start - 32) : start]
    after = text[end : end + 40]
    if _CUE_BEFORE_STRONG.search(before) or _CUE_AFTER_STRONG.match(after):
        return SCORE["strong_cue"]
    pair = _PAIR_BEFORE.search(before)
    if pair is not None and _PLACE_AFTER.match(" " + pair.group("other")):
        pair = None
    if _RECORD_AFTER.match(after):
        return SCORE["strong_cue"]
    if pair is not None or _PAIR_AFTER.match(after):
        return SCORE["weak_cue"]
    if _OWNED.match(after):
        return SCORE["strong_cue"]
    if _POSSESSIVE.match(after):
        return SCORE["possessive"]
    if _CUE_BEFORE_WEAK.search(before) or _CUE_AFTER_WEAK.match(after):
        return SCORE["weak_cue"]
    if _PAST_AFTER.match(after):
        return SCORE["weak_cue"]
    return 0.0


_INNER_WORD = regex.compile(r"[ \t]+(?=\S)")


def has_negative(text: str, start: int, end: int) -> bool:
    """True when the span sits in, or holds, an address, a place or an organisation name."""
    before = text[max(0, start - 40) : start]
    if _PLACE_AFTER.match(text, end) or _STREET_SUFFIX.search(text[start:end]):
        return True
    if _FIRM_JOIN.match(text, end) or _FIRM_JOIN_BEFORE.search(before):
        return True
    for m in _INNER_WORD.finditer(text, start, end):
        if _PLACE_AFTER.match(text, m.start()) or _PLACE_BEFORE.search(text, start, m.end()):
            return True
    if _HOUSE_NUMBER.search(before) or _AFTER_ADDRESS.search(before):
        return True
    if _POSSESSIVE.match(text, end):
        return False
    return _PLACE_BEFORE.search(before) is not None and not _CUE_BEFORE_STRONG.search(before)


def _sentence_start(text: str, start: int) -> bool:
    return _SENTENCE_START.search(text[max(0, start - 4) : start]) is not None


PLACE_LABELS = frozenset({"GPE", "LOC", "FAC"})


def single_word_score(
    lex: Lexicon,
    text: str,
    start: int,
    end: int,
    *,
    ner: bool,
    other_label: str = "",
    verbs: frozenset[str] = frozenset(),
) -> float:
    """The score of one capitalised word as a person's name (0 when negative evidence).

    `other_label` is spaCy's label when it is not PERSON: a place label counts against
    the word; an organisation or product label only against words the lexicon lacks
    (the small model tags many given names ORG). A word that opens a sentence and is an
    English verb (`verbs`) is an imperative ("Convert ...") unless a cue says otherwise.
    """
    word = text[start:end]
    if len(word) < 3 or has_negative(text, start, end):
        return 0.0
    score = SCORE["ner"] if ner else 0.0
    if other_label in PLACE_LABELS or (other_label and not lex.is_given(word)):
        score += SCORE["other_label"]
    ambiguous = lex.ambiguous(word)
    if lex.is_name(word):
        score += SCORE["known_ambiguous"] if ambiguous else SCORE["known"]
    start_of_sentence = _sentence_start(text, start)
    if ambiguous and start_of_sentence:
        score += SCORE["sentence_start_ambiguous"]
    if _DETERMINER_AFTER.match(text, end):
        score += SCORE["verb_shape"]
    if score <= 0:
        return 0.0
    cue = person_cue(text, start, end)
    weak = cue < SCORE["strong_cue"]
    if start_of_sentence and weak and (not ner or fold(word) in verbs):
        return 0.0  # capitalised by grammar: the lexicon alone is no evidence there
    return score + cue


def multi_word_score(
    lex: Lexicon, text: str, start: int, end: int, words: list[str], *, unlabelled: bool = False
) -> float:
    """The score of a capitalised run of name words found by the lexicon (not by spaCy).

    A run the lexicon does not know still counts when a cue points at a person: a strong
    one anywhere, a weak one when the run stands mid-sentence and spaCy gave it no label.
    """
    if has_negative(text, start, end):
        return 0.0
    names = [w for w in words if len(w.rstrip(".")) > 1]
    known = [w for w in names if lex.is_name(_strip_prefix(w)) and not lex.ambiguous(w)]
    vague = [w for w in names if lex.is_name(w) and lex.ambiguous(w)]
    evidence = 0.2 * min(len(known), 2) + 0.1 * min(len(vague), 1)
    if any(len(w.rstrip(".")) == 1 for w in words[1:-1]):
        evidence += SCORE["middle_initial"]
    if any(w.islower() for w in words[1:-1]):
        evidence += SCORE["particle"]
    cue = person_cue(text, start, end)
    mid = unlabelled and not _sentence_start(text, start)
    if evidence <= 0 and cue < SCORE["strong_cue"] and not (mid and cue > 0):
        return 0.0
    score = 0.45 + evidence
    if len(names) >= 2 and lex.is_given(names[0]) and lex.is_family(_strip_prefix(names[-1])):
        score += 0.1
    return score + cue


def _strip_prefix(word: str) -> str:
    folded = fold(word)
    for prefix in ("al-", "el-", "al\u2010", "el\u2010"):
        if folded.startswith(prefix):
            return word[len(prefix) :]
    return word


_GREETING = regex.compile(
    r"(?<![\p{L}])(?i:hey|hi|hello|dear|thanks|thank you|cheers|congrats|bye|morning|evening)"
    r"[ \t]+(?P<name>\p{Lu}\p{Ll}+(?:[-\u2010]\p{Lu}\p{Ll}+)?)(?=[ \t]*[,!.?:;\n]|[ \t]*$)"
)


def greeted(lex: Lexicon, text: str) -> list[tuple[int, int]]:
    """Names right after a greeting and before punctuation: "hey Arved, ..." (not "Hi all")."""
    return [
        (m.start("name"), m.end("name"))
        for m in _GREETING.finditer(text)
        if not lex.ambiguous(m.group("name"))
    ]
