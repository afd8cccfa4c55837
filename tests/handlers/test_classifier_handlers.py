"""The classifier's handler, built by ``triage_classifier.app.build`` (which loads the model
from ``TRIAGE_CLASSIFIER_MODEL_DIR``): messages in, classified messages or dead letters
out. Each case runs in memory and on the real broker (see conftest.py).

The model is one trained on the classifier tests' tiny corpus, so these cases need
neither ``make model`` nor the real corpus; lane and priority come from the shipped
taxonomy, and the hacked-account message is P1 by its guardrail whatever the model says.
"""

import json
from typing import NamedTuple

import pytest

from services.classifier.tests.classifier_support import TINY_CONFIG, write_tiny_corpus
from tests.factories import lane_and_priority, message
from tests.handlers.conftest import Start
from tests.handlers.harness import ServiceSpec
from triage_classifier.app import build
from triage_classifier.config import ClassifierSettings
from triage_classifier.corpus import load_corpus
from triage_classifier.training import train
from triage_schemas.enums import IssueType

CLASSIFIER = ServiceSpec(
    "classifier",
    settings=ClassifierSettings,
    build=build,
    outputs=lambda topics: [topics.classified, topics.dlq],
)


class TinyModel(NamedTuple):
    env: dict[str, str]
    version: str


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> TinyModel:
    """A model artifact where the service looks for one (``<dir>/CURRENT``), trained in about a second."""
    directory = tmp_path_factory.mktemp("classifier")
    model = train(load_corpus(write_tiny_corpus(directory / "corpus")), TINY_CONFIG)
    model.save(directory / "models")
    return TinyModel({"TRIAGE_CLASSIFIER_MODEL_DIR": str(directory / "models")}, model.version)


class TestClassifierHandler:
    async def test_a_hacked_account_message_is_classified_p1_in_the_support_lane_with_every_field(
        self, start: Start, tiny_model: TinyModel
    ) -> None:
        record = message(
            message_id="ig:1", conversation_id="c-hacked", channel="direct_message",
            text="someone hacked my account and changed my email, it wasn't me!!",
        )  # fmt: skip
        async with start(CLASSIFIER, tiny_model.env) as classifier:
            topics = classifier.topics
            await classifier.send(topics.messages, record, key="c-hacked")

            [out] = await classifier.outputs.wait_for(topics.classified)
        assert out.key == "c-hacked"
        body = out.json()
        assert body["record_type"] == "classified"
        assert {k: v for k, v in body.items() if k not in ("record_type", "classification")} == record.model_dump(
            mode="json", exclude={"record_type"}
        )
        c = body["classification"]
        assert (c["issue_type"], c["lane"], c["priority"]) == ("account_compromise", "support", "P1")
        assert c["model_version"] == tiny_model.version
        assert set(c["scores"]) == {t.value for t in IssueType}
        assert c["sentiment"]["label"] in {"negative", "neutral", "positive"}
        assert 0.0 <= c["confidence"] <= 1.0

    async def test_lane_and_priority_follow_the_taxonomy_for_the_issue_the_model_finds(
        self, start: Start, tiny_model: TinyModel
    ) -> None:
        texts = {
            "c-pay": "i was charged twice for one order",
            "c-ship": "where is my order, still not here",
            "c-love": "love this colour so much",
        }
        async with start(CLASSIFIER, tiny_model.env) as classifier:
            topics = classifier.topics
            for n, (conversation, text) in enumerate(texts.items()):
                record = message(message_id=f"ig:{n}", conversation_id=conversation, text=text)
                await classifier.send(topics.messages, record, key=conversation)

            outputs = await classifier.outputs.wait_for(topics.classified, len(texts))
        found = {o.key: o.json()["classification"] for o in outputs}
        assert {k: c["issue_type"] for k, c in found.items()} == {
            "c-pay": "payment_issue", "c-ship": "order_shipping", "c-love": "feedback"
        }  # fmt: skip
        for c in found.values():
            assert (c["lane"], c["priority"]) == lane_and_priority()[c["issue_type"]]

    async def test_broken_and_invalid_messages_are_dead_lettered_and_the_next_one_is_classified(
        self, start: Start, tiny_model: TinyModel
    ) -> None:
        good = message(message_id="ig:ok", conversation_id="c-bad", text="love this colour so much")
        invalid = json.dumps({**good.model_dump(mode="json"), "platform": "myspace"})
        async with start(CLASSIFIER, tiny_model.env) as classifier:
            topics = classifier.topics
            await classifier.send(topics.messages, b"{broken", key="c-bad")
            await classifier.send(topics.messages, invalid, key="c-bad")
            await classifier.send(topics.messages, good, key="c-bad")

            letters = await classifier.outputs.wait_for(topics.dlq, 2)
            [classified] = await classifier.outputs.wait_for(topics.classified)
        dead = [letter.json() for letter in letters]
        assert [d["stage"] for d in dead] == ["classifier", "classifier"]
        assert dead[0]["original"] == "{broken" and dead[0]["error"].startswith("not JSON"), dead[0]
        assert dead[1]["original"] == invalid
        assert dead[1]["error"].startswith("not a valid message: platform"), dead[1]["error"]
        assert classified.json()["message_id"] == "ig:ok"
