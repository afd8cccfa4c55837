"""The drift metrics a care lead watches: what one batch through the service step adds."""

from prometheus_client import REGISTRY

from triage_classifier.app import _counted
from triage_classifier.classify import Classifier
from triage_classifier.records_io import message_from_shorthand
from triage_runtime.delivery import Inbound
from triage_schemas.records import ClassifiedMessage


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _inbound(text: str) -> Inbound:
    message = message_from_shorthand({"text": text, "platform": "instagram", "channel": "direct_message"})
    return Inbound(message.to_json_bytes())


def test_a_batch_counts_languages_review_reasons_confidence_and_types(classifier: Classifier) -> None:
    texts = [
        "my account was hacked and someone changed my password",
        "where is my parcel, it was due on monday",
        "",
        "Wo ist meine Bestellung? Ich warte seit zwei Wochen auf das Paket.",
    ]
    before = {
        "empty": _value("triage_classifier_review_reasons_total", reason="empty_text"),
        "untrained": _value("triage_classifier_review_reasons_total", reason="language_not_trained"),
        "de": _value("triage_classifier_languages_total", language="de"),
        "en": _value("triage_classifier_languages_total", language="en"),
    }
    lanes = ("risk", "support", "sales", "community")
    confidence_before = {lane: _value("triage_classifier_confidence_count", lane=lane) for lane in lanes}

    results = _counted(classifier, "social.classified", [_inbound(text) for text in texts])

    records = [out.record for result in results if isinstance(result, list) for out in result]
    assert len(records) == 4 and all(isinstance(r, ClassifiedMessage) for r in records)
    assert _value("triage_classifier_review_reasons_total", reason="empty_text") == before["empty"] + 1
    assert _value("triage_classifier_review_reasons_total", reason="language_not_trained") == before["untrained"] + 1
    assert _value("triage_classifier_languages_total", language="de") == before["de"] + 1
    assert _value("triage_classifier_languages_total", language="en") >= before["en"] + 2
    # one confidence observation per message, under the lane it was classified into
    for lane in lanes:
        in_lane = sum(1 for r in records if isinstance(r, ClassifiedMessage) and r.classification.lane.value == lane)
        assert _value("triage_classifier_confidence_count", lane=lane) == confidence_before[lane] + in_lane
