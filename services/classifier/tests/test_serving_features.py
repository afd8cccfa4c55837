"""The serving feature path computes what the fitted scikit-learn pipeline computes."""

import numpy as np
import pytest

from triage_classifier.features import ServingFeatures
from triage_classifier.model import TrainedModel

TEXTS = [
    "my account was hacked and someone changed my password!!! help",
    "",
    "   ",
    "😍😍😍",
    "¿Dónde está mi pedido #48213? llevo 3 semanas esperando",
    "Livraison reçue abîmée, je veux un remboursement https://shop.example.com/o/77",
    "@brand love this colour 💜 " * 200,
    "a",
]


@pytest.mark.parametrize("batch", [TEXTS, TEXTS[:1], TEXTS[1:2], TEXTS[3:5]])
def test_serving_features_match_the_pipeline(tiny_model: TrainedModel, batch: list[str]) -> None:
    expected = tiny_model.features.transform(batch)
    served = ServingFeatures(tiny_model.features).transform(batch)
    assert served.shape == expected.shape
    assert served.dtype == expected.dtype
    assert abs(served - expected).max() <= 1e-6
    assert np.array_equal(np.sort(served.nonzero()[1]), np.sort(expected.nonzero()[1]))


def test_predictions_are_unchanged_by_the_serving_path(tiny_model: TrainedModel) -> None:
    head = tiny_model._issue_head
    served = head.predict_proba(ServingFeatures(tiny_model.features).transform(TEXTS))
    through_pipeline = head.predict_proba(tiny_model.features.transform(TEXTS))
    assert np.allclose(served, through_pipeline, atol=1e-6)
    assert (served.argmax(axis=1) == through_pipeline.argmax(axis=1)).all()
