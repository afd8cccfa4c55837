import pytest
from pydantic import ValidationError

from triage_schemas import IssueType, Lane, Priority
from triage_schemas.policy import SlaPolicy


def test_durations_and_fallbacks() -> None:
    policy = SlaPolicy.model_validate(
        {
            "targets": {"account_compromise": "15m", "partnership": "12h", "spam": None, "feedback": 21600},
            "fallback": {"support": {"P2": "1h30m"}},
        }
    )
    assert policy.target_seconds(IssueType.ACCOUNT_COMPROMISE, Lane.SUPPORT, Priority.P1) == 900
    assert policy.target_seconds(IssueType.PARTNERSHIP, Lane.SALES, Priority.P3) == 43_200
    assert policy.target_seconds(IssueType.FEEDBACK, Lane.COMMUNITY, Priority.P3) == 21_600
    assert policy.target_seconds(IssueType.SPAM, Lane.COMMUNITY, Priority.P3) is None
    assert policy.target_seconds(IssueType.PAYMENT_ISSUE, Lane.SUPPORT, Priority.P2) == 5400
    assert policy.alerts.warning == 0.8


@pytest.mark.parametrize(
    ("data", "where", "says"),
    [
        ({"targets": {"payment_issue": "-5m"}}, "targets.payment_issue", "not a duration"),
        ({"targets": {"payment_issue": 0}}, "targets.payment_issue", "greater than or equal to 1"),
        ({"targets": {"refund": "1h"}}, "targets.refund", "account_compromise"),
        ({"fallback": {"marketing": {"P1": "1h"}}}, "fallback.marketing", "community"),
        ({"alerts": {"warning": 1.5, "breach": 1.0}}, "alerts", "must rise"),
    ],
)
def test_bad_sla_sections_name_the_path(data: dict[str, object], where: str, says: str) -> None:
    with pytest.raises(ValidationError) as caught:
        SlaPolicy.model_validate(data)
    locations = [".".join(str(p) for p in e["loc"]) for e in caught.value.errors()]
    assert any(loc.startswith(where) for loc in locations), locations
    assert says in str(caught.value)
