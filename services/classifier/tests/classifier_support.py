"""A tiny labelled corpus and its training settings, for the classifier's unit tests."""

import json
from pathlib import Path

from triage_classifier.training import TrainingConfig

TINY = {
    "account_compromise": [
        "someone logged into my account and changed my email",
        "my account got hacked last night, cant get back in",
        "i see orders on my profile i never placed, was i hacked",
        "hackers took over my page and posted scams",
        "on a piraté mon compte, le mail a changé",
        "me hackearon la cuenta y cambiaron la contraseña",
        "unknown device logged in and changed my password",
    ],
    "safety_threat": [
        "the charger caught fire next to my sons bed",
        "your heater melted and burned my daughters hand",
        "i know where the manager parks, see you friday",
        "the stroller buckle snapped and my baby fell",
        "la batterie a pris feu dans la cuisine",
        "el cargador explotó y quemó la mesa",
        "this blender shattered and cut my hand badly",
    ],
    "harassment": [
        "@dave you are a worthless idiot, shut up",
        "look at that ugly creator, what a pig lol",
        "this moderator is a disgusting clown, delete yourself",
        "nobody wants you here, loser, go away forever",
        "ferme ta gueule toi, espèce de clown",
        "cállate idiota, nadie te quiere aquí",
        "your staff member sarah is a stupid cow",
    ],
    "legal_regulatory": [
        "my lawyer will contact you about this refund",
        "I want all my personal data deleted under gdpr",
        "reporting this ad to the ftc, no disclosure",
        "je vais saisir la cnil pour mes données",
        "voy a poner una denuncia ante consumo",
        "see you in small claims court",
        "this influencer post is an undisclosed paid ad",
    ],
    "payment_issue": [
        "i was charged twice for one order",
        "my card payment failed three times",
        "where is my refund, been 3 weeks",
        "double charge on my statement please fix",
        "on m'a débité deux fois",
        "me cobraron dos veces el mismo pedido",
        "billing took money after I cancelled",
    ],
    "order_shipping": [
        "where is my order, still not here",
        "package arrived damaged and the box was wet",
        "wrong size delivered, how do i exchange",
        "tracking hasnt moved in ten days",
        "mon colis n'est jamais arrivé",
        "mi pedido llegó incompleto",
        "can i return these shoes, they dont fit",
    ],
    "technical_issue": [
        "the app crashes every time i open it",
        "forgot my password and the reset email never comes",
        "checkout page keeps spinning forever",
        "website shows error 500 on login",
        "l'appli plante au démarrage",
        "la app no carga desde la actualización",
        "bluetooth keeps disconnecting after update",
    ],
    "product_question": [
        "does this jacket run small",
        "is the blue one back in stock",
        "is this compatible with iphone 15",
        "how do i clean the filter",
        "cette crème convient aux peaux sensibles ?",
        "¿viene en talla grande?",
        "what is the battery life on this model",
    ],
    "sales_lead": [
        "how much for 200 units for my company",
        "can i get a quote for the office",
        "do you offer a business discount for bulk orders",
        "i want to book a demo for my team",
        "quel est le prix pour 50 licences",
        "quiero comprar al por mayor para mi tienda",
        "ready to buy, what are your pricing plans",
    ],
    "partnership": [
        "i'm a creator with 80k followers, collab?",
        "our agency would love to sponsor your next video",
        "interested in a paid partnership, dm me",
        "can we use your photo in our campaign, usage rights",
        "je suis influenceuse, partenariat possible ?",
        "soy creadora de contenido, hacemos colaboración",
        "brand ambassador program, are you accepting",
    ],
    "feedback": [
        "love this colour so much",
        "your prices are a joke lol",
        "best customer service ever thanks",
        "the new design is worse than before",
        "j'adore la nouvelle collection",
        "me encanta este producto gracias",
        "this mascara is killer 😍",
    ],
    "spam": [
        "want 10k followers? check my bio",
        "follow for follow 🔥🔥",
        "earn 500 a day from home click link",
        "free crypto giveaway visit my page",
        "gagnez de l'argent facilement lien en bio",
        "sígueme y te sigo",
        "cheap likes and views dm now",
    ],
}

SENTIMENTS = ["negative", "neutral", "positive"]


def write_tiny_corpus(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    lines = []
    for issue_type, texts in TINY.items():
        for number, text in enumerate(texts):
            lines.append(
                {
                    "id": f"tiny-{issue_type}-{number}",
                    "lang": "en",
                    "text": text,
                    "issue_type": issue_type,
                    # Any mix works: the tests check the sentiment head's shape, not its accuracy.
                    "sentiment": SENTIMENTS[number % 3],
                }
            )
    path = directory / "tiny.jsonl"
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    return directory


TINY_CONFIG = TrainingConfig(
    c_grid=(1.0,), cv_folds=2, calibration_folds=2, word_buckets=2**14, char_buckets=2**15, p1_recall_goal=None
)
