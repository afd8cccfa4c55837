"""Keyword triggers: compiled once per policy, matched as whole words of the folded text,
and reported in the policy's order, exactly as the word-by-word scan they replace did."""

import random
import re
import unicodedata

import pytest
import yaml

from services.router.tests.test_router_decisions import POLICY, message
from triage_router.policy import DEFAULT_POLICY, DEMO_POLICY, KeywordSet, load_policy, parse_policy, scanned_words
from triage_router.routing import find_keyword, route

_WORD = re.compile(r"\w+")


def reference_fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def reference_find_keyword(text: str, keywords: list[str]) -> str | None:
    """The word-by-word scan the router used before keyword sets were compiled."""
    tokens = _WORD.findall(reference_fold(text))
    for keyword in keywords:
        prefix = keyword.rstrip().endswith("*")
        phrase = _WORD.findall(reference_fold(keyword.replace("*", " ")))
        if not phrase:
            continue
        for start in range(len(tokens) - len(phrase) + 1):
            window = tokens[start : start + len(phrase)]
            last = window[-1].startswith(phrase[-1]) if prefix else window[-1] == phrase[-1]
            if window[:-1] == phrase[:-1] and last:
                return keyword
    return None


def shipped_keyword_sets() -> list[list[str]]:
    sets = []
    for path in (DEFAULT_POLICY, DEMO_POLICY):
        sets += [t.when.keywords for t in load_policy(path).triggers if t.when.keywords]
    return sets


ODD_KEYWORDS = ["a*b", "x y*", "ÉTÉ", "straße", "ﬁn*", "a", "a a", "_", "1*", "!!!"]


def test_keyword_sets_find_what_the_word_scan_found() -> None:
    sets = [*shipped_keyword_sets(), ODD_KEYWORDS]
    vocabulary = sorted({w for keywords in sets for k in keywords for w in _WORD.findall(k)})
    vocabulary += ["Été", "STRASSE", "ﬁnal", "e\u0301te", "a_b", "²", "😍"]
    separators = [" ", "  ", "-", ", ", "\n", "é", "_", "'", "*", "", "\u00a0"]
    rng = random.Random(15)
    compiled = [(keywords, KeywordSet(keywords)) for keywords in sets]
    for _ in range(20_000):
        parts: list[str] = []
        for _ in range(rng.randint(0, 12)):
            word = rng.choice(vocabulary)
            if rng.random() < 0.2:
                word = word[: rng.randint(1, len(word))]
            if rng.random() < 0.2:
                word = word.upper()
            parts += [word, rng.choice(separators)]
        text = "".join(parts)
        keywords, keyword_set = rng.choice(compiled)
        assert keyword_set.first(scanned_words(text)) == reference_find_keyword(text, keywords), (text, keywords)


@pytest.mark.parametrize(
    ("text", "keywords", "found"),
    [
        # The policy's order decides which keyword is reported, not the order in the text.
        ("they want a contract and a budget", ["budget*", "contract*"], "budget*"),
        ("Je veux une exclusivité", ["budget*", "exclusivite*"], "exclusivite*"),
        ("a CHARGE-BACK, again", ["charge back"], "charge back"),
        ("chargebacks everywhere", ["chargeback*"], "chargeback*"),
        ("chargebacks everywhere", ["chargeback"], None),
        ("a charge backlog", ["charge back"], None),
        ("discharge back pain", ["charge back"], None),
        ("¿Está BLOQUEADO?", ["bloqueado"], "bloqueado"),
    ],
)
def test_keywords_match_whole_words_and_report_in_policy_order(
    text: str, keywords: list[str], found: str | None
) -> None:
    assert find_keyword(text, keywords) == found


def test_the_reason_names_the_first_listed_keyword() -> None:
    routing = route(message("sales_lead", "exclusivity? send the contract, then the budget"), POLICY).routing
    assert "keyword 'budget*'" in " ".join(routing.reasons)


def test_keyword_sets_are_compiled_when_the_policy_loads() -> None:
    policy = load_policy(DEFAULT_POLICY)
    compiled = [t.when.keyword_set for t in policy.triggers if t.when.keywords]
    assert compiled and all(keyword_set is not None for keyword_set in compiled)
    # The same objects on every message: nothing is compiled while routing.
    again = [t.when.keyword_set for t in policy.triggers if t.when.keywords]
    assert all(a is b for a, b in zip(compiled, again, strict=True))


def test_keywords_changed_by_model_copy_are_used() -> None:
    trigger = next(t for t in POLICY.triggers if t.id == "support-chargeback")
    changed = trigger.when.model_copy(update={"keywords": ["refund*"]})
    assert changed.keyword_set is not None
    assert changed.keyword_set.first(scanned_words("refunds please")) == "refund*"


def test_punctuation_in_a_keyword_separates_words_and_is_never_a_pattern() -> None:
    data = yaml.safe_load(DEFAULT_POLICY.read_text(encoding="utf-8"))
    data["triggers"][0]["when"]["keywords"] = ["(not a regex[", "a.b*", "c++"]
    policy = parse_policy(data)
    keyword_set = policy.triggers[0].when.keyword_set
    assert keyword_set is not None
    # Keywords are words, never patterns: punctuation only separates them.
    assert keyword_set.first(scanned_words("is this not a regex?")) == "(not a regex["
    assert keyword_set.first(scanned_words("A-B-C")) == "a.b*"
