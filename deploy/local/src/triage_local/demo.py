"""The demo source of ``make run``: customers post on every platform, the brand answers.

Customers' messages go to ``social.raw`` as raw platform events, exactly as a connector
would publish them. A simulated care team watches ``social.routed`` and answers each
conversation on time for most, late for some, and not at all for a few, so the SLA
monitor's warnings, breaches and escalations show up within a couple of minutes under
the demo policy's second-scale targets. Replies on platforms that echo the brand's own
messages go back through ``social.raw`` as echoes; the rest arrive the way a help desk
sends them, as ``agent_replied`` events on ``social.conversation-events``. A couple of
minutes in, a payment provider fails: a burst of payment complaints on Instagram, which
the SLA monitor reports as a surge.
"""

import argparse
import asyncio
import contextlib
import json
import random
import secrets
import signal
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from pydantic import ValidationError

from triage_local import demo_roster
from triage_local.payloads import BRAND_IDS, ECHO, INBOUND, Customer
from triage_local.view import latest_consumer
from triage_router.policy import DEMO_POLICY
from triage_runtime.kafka import KafkaSettings
from triage_runtime.topics import TopicSettings
from triage_schemas.enums import ConversationEventType, Platform
from triage_schemas.records import ConversationEvent, RawEnvelope, RoutedMessage, parse_record

# (event kind, what the customer writes): every lane and priority, three languages.
SCRIPT: list[tuple[str, str]] = [
    ("instagram_comment", "obsessed with the new linen shirts 😍 the sage one is perfect"),
    ("messenger_dm", "hi, my order #NW-48213 still says processing after 9 days, any update?"),
    ("x_mention", "someone logged into my account from another country and changed my email, I didn't do this"),
    ("whatsapp", "I was charged twice for the same order, can you refund one of them please"),
    ("facebook_comment", "does the oak dining table come in a 6 seater? need it before december"),
    ("youtube_comment", "the app keeps crashing when I open the checkout page on android 14"),
    (
        "instagram_dm",
        "Hi! I run a home decor channel (85k followers) and would love to collaborate on a sponsored video",
    ),
    ("telegram", "we want to order 300 units for our hotel chain, can someone send a quote?"),
    ("x_dm", "the charger you sold me melted and burned my son's hand, this is dangerous"),
    ("facebook_comment", "follow me for 10k free followers!! link in bio 🔥🔥"),
    ("messenger_dm", "je n'ai toujours pas reçu ma commande, le suivi ne bouge plus depuis une semaine"),
    ("instagram_comment", "ce rouge à lèvres est une tuerie 💄 je valide à 100%"),
    ("whatsapp", "hola, me cobraron dos veces el pedido y nadie me responde"),
    ("x_mention", "if you don't refund me by friday my lawyer will be in touch, this is a consumer law breach"),
    ("youtube_comment", "que alguien banee a este tipo, lleva todo el video insultando a la creadora"),
    ("telegram", "forgot my password and the reset email never arrives"),
    ("instagram_dm", "alguien entró a mi cuenta y está comprando con mi tarjeta, ayuda urgente"),
    ("messenger_dm", "what's the difference between the pro and the max version?"),
    ("x_dm", "please delete all the personal data you hold about me under GDPR article 17"),
    ("facebook_comment", "your delivery guy was so kind today, thank you 🙏"),
    ("whatsapp", "bonjour, vous faites des tarifs pour les entreprises ? on cherche 50 licences"),
    ("instagram_comment", "@marie_dlc t'es vraiment une idiote, personne veut lire tes commentaires"),
    ("x_mention", "I know where your store manager parks. see you friday."),
    ("youtube_comment", "honestly the old design was better, this update is meh"),
    ("telegram", "la aplicación no carga desde la última actualización, pantalla en blanco"),
    ("messenger_dm", "my package arrived damaged, the box was crushed and the lamp is broken"),
    ("tiktok_dm", "do you ship to Chile? I want 3 of the lip kits for my sisters"),
    ("tiktok_dm", "la crème m'a brûlé la peau, j'ai des plaques rouges partout"),
    ("linkedin_comment", "We'd like a demo of your fleet software for 40 vans, who handles pricing?"),
    ("linkedin_comment", "Great panel today, really useful insights on last-mile logistics"),
]

# The staged outage: what customers write when checkout payments fail.
OUTAGE: list[str] = [
    "checkout keeps saying payment declined but my bank says the card is fine??",
    "tried to pay 4 times, card declined every time, what is going on",
    "your payment page is broken, it charged me and then said the order failed",
    "payment failed again 😤 is your site down?",
    "can't pay with apple pay or card, error at the last step",
    "le paiement ne passe pas, carte refusée alors qu'elle marche partout ailleurs",
    "no me deja pagar, dice error en el pago todo el rato",
    "got charged but no order confirmation, payment error on checkout",
]
OUTAGE_MESSAGES = 24
OUTAGE_SECONDS = 10.0
WRAP_UP_SECONDS = (2.0, 8.0)  # from the agent's reply to resolved

REPLIES = {
    "messenger_dm": "Thanks for reaching out, we're on it now.",
    "instagram_dm": "Hi! Thanks for your message, looking into it.",
    "x_dm": "Thanks for flagging this, we're checking right away.",
    "tiktok_dm": "Hi! Thanks for your message, we're on it.",
    "linkedin_comment": "Thank you, our team will reach out to you directly.",
}


@dataclass(frozen=True)
class Sent:
    kind: str
    uid: str
    customer: Customer


class CareTeam:
    """When the simulated brand answers: on time for most, late for some, never for a few."""

    def __init__(self, rng: random.Random, on_time_share: float = 0.7, late_share: float = 0.2) -> None:
        self.rng = rng
        self.on_time_share = on_time_share
        self.late_share = late_share

    def reply_after(self, target_seconds: int) -> float | None:
        """Seconds after the customer's message, or None for a conversation left unanswered."""
        draw = self.rng.random()
        if draw < self.on_time_share:
            return target_seconds * self.rng.uniform(0.2, 0.7)
        if draw < self.on_time_share + self.late_share:
            return target_seconds * self.rng.uniform(1.1, 1.6)
        return None


def service_env(service: str) -> dict[str, str]:
    """What each service needs to know about the demo: its brand accounts and its policy."""
    if service == "ingest":
        brands = {platform.value: [account] for platform, account in BRAND_IDS.items()}
        return {"TRIAGE_INGEST_BRAND_ACCOUNT_IDS": json.dumps(brands)}
    if service == "router":
        return {"TRIAGE_ROUTER_POLICY_FILE": str(DEMO_POLICY)}
    if service == "sla-monitor":  # one policy file for both: the same fractions, calendars, windows
        return {"TRIAGE_SLA_MONITOR_POLICY_FILE": str(DEMO_POLICY)}
    return {}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rate", type=float, default=0.5, help="customer messages per second (default 0.5)")
    parser.add_argument("--duration", type=float, default=0, help="stop after this many seconds (default: never)")
    parser.add_argument("--seed", type=int, default=None, help="random seed, for a repeatable stream")
    parser.add_argument(
        "--surge-after", type=float, default=120.0,
        help="seconds until a payment outage floods Instagram with complaints (default 120; 0 = none)",
    )  # fmt: skip


def _customer(rng: random.Random, kind: str) -> Customer:
    number = rng.randrange(10**9, 10**10)
    handle = rng.choice(["maya", "jules", "camila", "tom", "ines", "dev", "lucia", "sam"]) + f"_{number % 10000}"
    # X ids and Telegram ids are numbers; the others are opaque strings of digits or letters.
    ident = f"UC{number:x}demo" if kind == "youtube_comment" else str(number)
    followers = (
        rng.choice([120, 860, 2_400, 15_000, 250_000]) if kind.startswith("x_") else rng.choice([40, 300, 1_200])
    )
    return Customer(ident, handle, handle.split("_")[0].title() + " Demo", followers)


async def main(args: argparse.Namespace) -> int:
    kafka, topics = KafkaSettings(), TopicSettings()
    connection = {k: v for k, v in kafka.admin_client_kwargs().items() if k != "request_timeout_ms"}
    rng = random.Random(args.seed)
    care = CareTeam(rng)
    sent: dict[str, Sent] = {}
    producer = AIOKafkaProducer(acks="all", **connection)
    await producer.start()
    routed = await latest_consumer(kafka, topics.routed)
    replies: set[asyncio.Task[None]] = set()

    async def publish_raw(platform: Platform, payload: dict[str, object], key: str) -> None:
        envelope = RawEnvelope(
            platform=platform,
            received_at=datetime.now(UTC),
            payload=payload,
            source="demo",
            account_id=BRAND_IDS.get(platform),
        )
        await producer.send_and_wait(topics.raw, envelope.to_json_bytes(), key=key.encode())

    async def customers() -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        order = list(SCRIPT)
        while not args.duration or loop.time() - started < args.duration:
            rng.shuffle(order)
            for kind, text in order:
                customer = _customer(rng, kind)
                uid = secrets.token_hex(8)
                event = INBOUND[kind](uid, customer, text, datetime.now(UTC))
                sent[customer.id] = Sent(kind, uid, customer)
                await publish_raw(event.platform, event.payload, f"{event.platform.value}:{customer.id}")
                await asyncio.sleep(rng.expovariate(args.rate))
                if args.duration and loop.time() - started >= args.duration:
                    return

    async def answer(message: RoutedMessage, delay: float, origin: Sent) -> None:
        await asyncio.sleep(delay)
        now = datetime.now(UTC)
        if origin.kind in ECHO:
            echo = ECHO[origin.kind](secrets.token_hex(8), origin.customer, REPLIES[origin.kind], now)
            await publish_raw(echo.platform, echo.payload, f"{echo.platform.value}:{origin.customer.id}")
        else:
            await reply_event(message, origin, now)
        # The agent wraps up a little later: the slot frees for whoever waits in the queue.
        await asyncio.sleep(rng.uniform(*WRAP_UP_SECONDS))
        done = demo_roster.resolved(message.conversation_id, origin.uid)
        await producer.send_and_wait(
            topics.conversation_events, done.to_json_bytes(), key=message.conversation_id.encode()
        )

    async def reply_event(message: RoutedMessage, origin: Sent, now: datetime) -> None:
        event = ConversationEvent(
            event_id=f"demo-reply-{origin.uid}",
            conversation_id=message.conversation_id,
            type=ConversationEventType.AGENT_REPLIED,
            at=now,
            actor="demo-care-team",
            platform=message.platform,
        )
        await producer.send_and_wait(
            topics.conversation_events, event.to_json_bytes(), key=message.conversation_id.encode()
        )

    async def care_team() -> None:
        async for record in routed:
            with contextlib.suppress(ValidationError):
                message = parse_record(record.value)
                if not isinstance(message, RoutedMessage):
                    continue
                origin = sent.pop(message.author.id, None)
                target = message.routing.first_response_target_seconds
                if origin is None or not target:
                    continue  # not the demo's customer, or no clock (spam)
                after = care.reply_after(target)
                if after is None:
                    continue
                elapsed = (datetime.now(UTC) - message.received_at).total_seconds()
                task = asyncio.create_task(answer(message, max(0.0, after - elapsed), origin))
                replies.add(task)
                task.add_done_callback(replies.discard)

    async def outage() -> None:
        """A payment provider fails: complaints pile up on Instagram within seconds."""
        await asyncio.sleep(args.surge_after)
        for n in range(OUTAGE_MESSAGES):
            customer = _customer(rng, "instagram_comment")
            uid = secrets.token_hex(8)
            event = INBOUND["instagram_comment"](uid, customer, OUTAGE[n % len(OUTAGE)], datetime.now(UTC))
            sent[customer.id] = Sent("instagram_comment", uid, customer)
            await publish_raw(event.platform, event.payload, f"{event.platform.value}:{customer.id}")
            await asyncio.sleep(OUTAGE_SECONDS / OUTAGE_MESSAGES)

    team = asyncio.create_task(care_team())
    surge = asyncio.create_task(outage()) if args.surge_after > 0 else None
    staff = asyncio.create_task(demo_roster.shift(producer, topics, random.Random(rng.random())))
    # make run stops the demo with SIGTERM: finish cleanly, not with a traceback.
    current = asyncio.current_task()
    assert current is not None
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, current.cancel)
    try:
        await customers()
        # Let the last conversations be answered (or breach) before stopping.
        if replies:
            await asyncio.wait(replies)
    except asyncio.CancelledError:
        pass
    finally:
        team.cancel()
        staff.cancel()
        if surge is not None:
            surge.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await staff
        for task in replies:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await team
        await routed.stop()
        await producer.stop()
    return 0
