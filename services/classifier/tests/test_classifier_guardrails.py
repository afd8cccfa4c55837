"""The reviewed pattern layer: fires on real P1 signals, stays quiet on harmless ones."""

from pathlib import Path

import pytest

from triage_classifier.corpus import DEFAULT_CORPUS_DIR, load_corpus
from triage_classifier.guardrails import GuardrailError, load_guardrails
from triage_schemas.enums import IssueType


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("someone logged into my account and changed my password, it wasn't me", IssueType.ACCOUNT_COMPROMISE),
        ("mon compte a été piraté cette nuit", IssueType.ACCOUNT_COMPROMISE),
        ("mon compte a ete pirate cette nuit", IssueType.ACCOUNT_COMPROMISE),
        ("me hackearon la cuenta ayer", IssueType.ACCOUNT_COMPROMISE),
        ("the power bank caught fire on my desk", IssueType.SAFETY_THREAT),
        ("I know where your store manager parks. See you friday.", IssueType.SAFETY_THREAT),
        ("honestly I just want to end it all", IssueType.SAFETY_THREAT),
        ("la trottinette a pris feu dans le garage", IssueType.SAFETY_THREAT),
        ("te voy a matar si vuelves a la tienda", IssueType.SAFETY_THREAT),
        ("@jen go kill yourself nobody likes you", IssueType.HARASSMENT),
        ("retourne dans ton pays, personne veut de toi ici", IssueType.HARASSMENT),
        ("ese veneco del delivery no debería trabajar aquí", IssueType.HARASSMENT),
        ("people like you should go back to your country", IssueType.HARASSMENT),
        ("je vais te buter à la sortie du magasin", IssueType.SAFETY_THREAT),
        ("my lawyer will be in touch about this refund", IssueType.LEGAL_REGULATORY),
        ("je vais saisir la CNIL", IssueType.LEGAL_REGULATORY),
        ("quiero que borren mis datos personales", IssueType.LEGAL_REGULATORY),
    ],
)
def test_real_signals_fire(text: str, expected: IssueType) -> None:
    assert expected in {signal.issue_type for signal in load_guardrails().signals(text)}


@pytest.mark.parametrize(
    "text",
    [
        "this mascara is killer",
        "I'd die for this jacket",
        "the new drop is a bomb 💣",
        "my kid screamed with joy",
        "this playlist is fire 🔥",
        "forgot my password and the reset link never arrives",
        "cette robe est une tuerie",
        "colis en retard de 3 jours, c'est normal ?",
        "votre musique d'attente va me faire crever d'ennui",
        "j'ai crevé un pneu avec votre vélo",
        "je vais tuer le contrôle de demain grâce à cette vidéo",
        "can I send them back for a refund?",
        "me muero por este bolso",
        "what's the issue with my order?",
    ],
)
def test_harmless_alarming_words_do_not_fire(text: str) -> None:
    assert load_guardrails().signals(text) == []


def test_batch_and_single_lookups_agree_and_every_match_has_a_trigger() -> None:
    """The trigger first pass must never hide a pattern match (checked on the whole corpus)."""
    guardrails = load_guardrails()
    texts = [example.text for example in load_corpus(DEFAULT_CORPUS_DIR).examples]
    assert texts
    assert guardrails.signals_batch(texts) == [guardrails.signals(text) for text in texts]
    assert [(t[:60], guardrails.untriggered_matches(t)) for t in texts if guardrails.untriggered_matches(t)] == []


def test_a_broken_pattern_is_refused_naming_the_rule(tmp_path: Path) -> None:
    path = tmp_path / "g.yaml"
    path.write_text(
        "version: t\nrules:\n  - id: r1\n    issue_type: harassment\n    triggers: [x]\n    patterns: ['(unclosed']\n",
        encoding="utf-8",
    )
    with pytest.raises(GuardrailError, match="rule r1: bad pattern"):
        load_guardrails(path)
    path.write_text("version: t\nrules:\n  - id: r1\n    issue_type: nope\n", encoding="utf-8")
    with pytest.raises(GuardrailError, match=r"g\.yaml: rules\.0\.issue_type"):
        load_guardrails(path)


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        (r"\bhacked(?! by me)", r"bad pattern 1 .*RE2 cannot compile it \(invalid perl operator"),
        (r"\b(\w+) \1\b", r"bad pattern 1 .*RE2 cannot compile it \(invalid escape sequence: \\1"),
    ],
)
def test_a_pattern_re2_cannot_run_is_refused_naming_the_rule_and_pattern(
    pattern: str, problem: str, tmp_path: Path
) -> None:
    path = tmp_path / "g.yaml"
    path.write_text(
        "version: t\nrules:\n  - id: r1\n    issue_type: harassment\n    triggers: [hack]\n"
        f"    patterns: ['hacked', '{pattern}']\n",
        encoding="utf-8",
    )
    with pytest.raises(GuardrailError, match=f"rule r1: {problem}"):
        load_guardrails(path)


@pytest.mark.parametrize(
    ("text", "fires"),
    [
        # \w, \d and \s keep Python's Unicode meaning under RE2 (whose own are ASCII).
        ("my сторінка account was hacked", True),
        ("mon compte œuvre a été piraté", True),
        ("MY ACCOUNT WAS HACKED", True),
        ("my account was hacked-ish? no, hackedx", True),
        ("the account hackedx", False),
    ],
)
def test_unicode_text_is_read_as_under_python_re(text: str, fires: bool) -> None:
    ids = {signal.rule_id for signal in load_guardrails().signals(text)}
    assert bool(ids & {"compromise-hacked-en", "compromise-pirate-fr"}) == fires


def test_patterns_and_triggers_are_folded_as_the_text_is(tmp_path: Path) -> None:
    """A reviewer may write accents, capitals or "ß"; the text may have them or not."""
    path = tmp_path / "g.yaml"
    path.write_text(
        "version: t\nrules:\n  - id: r1\n    issue_type: safety_threat\n    triggers: ['Straße', 'sécurité']\n"
        "    patterns: ['\\bstraße\\b', '\\bSÉCURITÉ (en )?danger\\b']\n",
        encoding="utf-8",
    )
    guardrails = load_guardrails(path)
    written = ["auf der STRASSE", "auf der Straße", "securite en danger", "Sécurité danger"]
    for text in [*written, "se\u0301curite\u0301 danger"]:
        assert [signal.rule_id for signal in guardrails.signals(text)] == ["r1"], text
    assert guardrails.signals("strassen sécurité") == []


# Issue 18 item 7: self-harm anywhere in a message, dangerous products however short,
# threats in progress against staff, calls to remove hateful users (EN/FR/ES).
@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("honestly i want to die. also ur app logs me out every day", "safety-self-harm"),
        ("lowkey wanna kms, anyway where is my parcel", "safety-self-harm"),
        ("been self harming again, sorry, wrong place", "safety-self-harm"),
        ("j'ai envie de mourir sérieux. et la box marche pas", "safety-self-harm"),
        ("je vais me tuer ce soir", "safety-self-harm"),
        ("me quiero morir neta, y el pedido no llega", "safety-self-harm"),
        ("me voy a quitar la vida esta noche", "safety-self-harm"),
        ("no one would care if i was gone", "safety-quiet-self-harm"),
        ("nadie me va a extrañar", "safety-quiet-self-harm"),
        ("power bank exploded", "safety-product-danger"),
        ("kettle sparked and shocked me", "safety-product-danger"),
        ("la bouilloire fait des étincelles", "safety-product-danger"),
        ("el cargador sacó chispas", "safety-product-danger"),
        ("found glass in the baby food", "safety-product-danger"),
        ("a passenger is threatening the cabin crew right now", "safety-staff-threat"),
        ("un client frappe le caissier", "safety-staff-threat"),
        ("le están pegando al repartidor", "safety-staff-threat"),
        ("he says he'll stab the cashier", "safety-violence"),
        ("il dit qu'il va la frapper", "safety-violence"),
        ("dice que lo va a matar", "safety-violence"),
        ("mañana vengo con una pistola", "safety-violence"),
        ("ban this racist pls", "harassment-hate-removal"),
        ("bannissez ce raciste", "harassment-hate-removal"),
        ("saquen al homofóbico del grupo", "harassment-hate-removal"),
        ("someone keeps calling people the n word in chat", "harassment-hate-removal"),
    ],
)
def test_the_four_p1_classes_of_issue_18_fire(text: str, rule: str) -> None:
    assert rule in {signal.rule_id for signal in load_guardrails().signals(text)}


@pytest.mark.parametrize(
    "text",
    [
        # hyperbole and idioms next to the new self-harm patterns
        "i want to die my hair pink, which shade?",
        "i want to die laughing every time this ad plays",
        "ran 10 kms today in these shoes",
        "your pills are ready for pickup",
        "nobody will notice if i return it late right?",
        "i'm going to end it now, the subscription is useless",
        "cette chaleur va me tuer, vivement la clim",
        "mon père va me tuer si il voit la facture",
        "je vais me tuer dans l'escalier avec ces talons",
        "je vais crever de chaud dans ce train",
        "je veux en finir avec ce dossier de remboursement",
        "me voy a tirar por la ventana jaja este anuncio",
        "me muero de risa con este video",
        "quiero morir de la risa",
        # products that only sound dangerous
        "my phone blew up with notifications after the post",
        "the new iphone is smoking hot",
        "this phone is on fire 🔥",
        "mon téléphone explose de notifs",
        "el foco se quemó, me mandan otro?",
        "mi jefe echa humo hoy jaja",
        "does it come with a knife sharpener?",
        "my son got stuck on level 5",
        # staff and threats that are not violence
        "customer threatening to call manager lol",
        "staff were threatened with layoffs",
        "they're going to beat the record",
        "les employés sont menacés de licenciement",
        "esta ley es una amenaza para los trabajadores",
        "il va tuer le game avec ce son",
        # hateful words aimed at the brand's own content, and bans of things
        "delete this racist ad now",
        "la pub est raciste, supprimez la",
        "la publicidad es racista, quítenla",
        "can you ban the bots",
        "the nazi zombies mode is fire",
    ],
)
def test_look_alikes_of_the_four_p1_classes_stay_quiet(text: str) -> None:
    assert load_guardrails().signals(text) == []
