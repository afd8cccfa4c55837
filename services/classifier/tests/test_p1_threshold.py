"""How training picks the P1 share threshold from out-of-fold answers on train."""

import numpy as np

from triage_classifier.training import MIN_P1_PER_LANGUAGE, OutOfFoldP1, choose_p1_threshold


def _lines(*groups: tuple[str, int, float, bool]) -> OutOfFoldP1:
    """``groups``: (language, how many P1 lines, their P1 share, caught by a guardrail)."""
    langs, mass, guarded = [], [], []
    for lang, count, share, caught in groups:
        langs += [lang] * count
        mass += [share] * count
        guarded += [caught] * count
    size = len(langs)
    return OutOfFoldP1(
        p1_mass=np.array(mass),
        top_is_p1=np.zeros(size, dtype=bool),
        guarded=np.array(guarded),
        is_p1=np.ones(size, dtype=bool),
        langs=np.array(langs),
    )


def test_the_highest_threshold_reaching_the_goal_is_chosen() -> None:
    lines = _lines(("en", 95, 0.45, False), ("en", 5, 0.20, False))

    assert choose_p1_threshold(lines, 0.95)["p1_threshold"] == 0.45
    assert choose_p1_threshold(lines, 0.99)["p1_threshold"] == 0.20


def test_guardrail_caught_lines_in_one_language_do_not_lower_the_bar_for_another() -> None:
    # French P1 lines the guardrails catch make the pooled recall reach 0.98 at 0.45,
    # while a tenth of the English P1 lines need the threshold down to 0.30.
    lines = _lines(
        ("fr", 400, 0.10, True),
        ("en", 90, 0.45, False),
        ("en", 10, 0.30, False),
    )

    decision = choose_p1_threshold(lines, 0.98)

    assert decision["p1_threshold"] == 0.30
    assert decision["p1_recall_out_of_fold_by_lang"] == {"en": 1.0, "fr": 1.0}


def test_a_language_with_few_p1_lines_counts_only_in_the_pooled_recall() -> None:
    few = MIN_P1_PER_LANGUAGE - 1
    lines = _lines(("en", 400, 0.45, False), ("de", few - 1, 0.45, False), ("de", 1, 0.10, False))

    decision = choose_p1_threshold(lines, 0.98)

    assert decision["p1_threshold"] == 0.45
    assert set(decision["p1_recall_out_of_fold_by_lang"]) == {"en"}


def test_out_of_reach_goal_ends_at_the_lowest_threshold_tried() -> None:
    lines = _lines(("en", 60, 0.45, False), ("en", 40, 0.01, False))

    decision = choose_p1_threshold(lines, 0.98)

    assert decision["p1_threshold"] == 0.05
    assert decision["p1_recall_out_of_fold"] == 0.6
