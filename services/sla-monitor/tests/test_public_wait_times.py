"""The public wait times and banner: friendly rounding, too few samples left out, no internal
name in what customers see, and the HTTP headers a browser and a CDN rely on."""

import base64
import hashlib
import json
import re

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from triage_schemas.enums import ResponseKind
from triage_sla_monitor.clock import Answered, Subject
from triage_sla_monitor.config import SlaMonitorSettings
from triage_sla_monitor.metrics import Figures
from triage_sla_monitor.public import (
    HOUR,
    MINUTE,
    NO_DATA,
    STEPS,
    WaitSamples,
    banner_page,
    banner_script,
    duration,
    known_platform,
    public_wait_times,
    step_up,
    within,
)
from triage_sla_monitor.views import public_routes

OWNERS = {"support": "support-lead", "risk": "trust-safety-lead", "sales": "partnerships", "community": "social-care"}


def subject(lane: str = "support", platform: str = "instagram") -> Subject:
    return Subject(lane, "P2", "payment_issue", OWNERS[lane], 1, platform, "direct_message", 3600)


def answer(figures: Figures, seconds: float, lane: str = "support", platform: str = "instagram", n: int = 1) -> None:
    for _ in range(n):
        figures.answered(Answered(subject(lane, platform), seconds), now=1_764_000_000.0)


def settings(**values: object) -> SlaMonitorSettings:
    return SlaMonitorSettings.model_validate({"public_cache_seconds": 60, "gauges_seconds": 0.001, **values})


def client(figures: Figures, config: SlaMonitorSettings) -> TestClient:
    return TestClient(Starlette(routes=public_routes(figures, config)))


# --- rounding -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("median", "promise"),
    [
        (1, "within 5 minutes"),
        (5 * MINUTE, "within 5 minutes"),
        (5 * MINUTE + 1, "within 10 minutes"),
        (29 * MINUTE, "within 30 minutes"),
        (31 * MINUTE, "within an hour"),
        (HOUR + 1, "within 2 hours"),
        (2 * HOUR, "within 2 hours"),
        (5 * HOUR, "within 6 hours"),
        (13 * HOUR, "within a day"),
        (36 * HOUR, "within 2 days"),
        (4 * 24 * HOUR, "within a week"),
    ],
)
def test_a_median_is_rounded_up_to_a_friendly_step(median: float, promise: str) -> None:
    figure = within([median] * 5, min_samples=5)
    assert figure is not None
    assert figure["within"] == promise
    assert figure["within_seconds"] >= median


def test_steps_increase_and_read_naturally() -> None:
    assert list(STEPS) == sorted(set(STEPS))
    assert [duration(s) for s in (300, 3600, 7200, 86_400, 604_800)] == [
        "5 minutes",
        "an hour",
        "2 hours",
        "a day",
        "a week",
    ]


def test_a_median_beyond_the_last_step_promises_nothing() -> None:
    assert step_up(STEPS[-1] + 1) is None
    assert within([STEPS[-1] * 2] * 10, min_samples=1) is None


def test_the_median_not_the_mean_is_promised() -> None:
    # one very late reply does not move the promise
    figure = within([60, 90, 120, 150, 3 * 86_400], min_samples=5)
    assert figure == {"within": "within 5 minutes", "within_seconds": 300}


# --- samples --------------------------------------------------------------------------------


def test_figures_keep_recent_first_responses_per_platform_and_per_lane_and_platform_bounded() -> None:
    figures = Figures(recent=3, dm_window_seconds=300)
    answer(figures, 10, "support", "instagram", n=5)
    answer(figures, 20, "sales", "instagram")
    answer(figures, 30, "support", "facebook")
    figures.answered(Answered(subject(), 999, ResponseKind.NEXT), now=0.0)  # a next response is no first one
    assert list(figures.recent_by_platform["instagram"]) == [10, 10, 20]
    assert list(figures.recent_by_platform["facebook"]) == [30]
    assert list(figures.recent_by_lane_platform["support", "instagram"]) == [10, 10, 10]
    assert list(figures.recent_by_lane_platform["sales", "instagram"]) == [20]
    assert list(figures.recent["support"]) == [10, 10, 30]


def test_a_figure_with_too_few_samples_is_left_out() -> None:
    samples = WaitSamples(
        by_lane={"support": [600] * 6},
        by_platform={"instagram": [600] * 5, "facebook": [600] * 1},
        by_lane_platform={("support", "instagram"): [600] * 4, ("support", "facebook"): [600]},
    )
    view = public_wait_times(samples, {"support": "orders and payments"}, min_samples=5)
    assert set(view["platforms"]) == {"instagram"}
    assert view["platforms"]["instagram"]["lanes"] == []  # 4 < 5 on instagram alone
    assert view["lanes"] == [{"label": "orders and payments", "within": "within 10 minutes", "within_seconds": 600}]
    assert view["banner"] == "We usually reply within 10 minutes"
    assert view["platforms"]["instagram"]["banner"] == "We usually reply within 10 minutes on Instagram"


def test_no_samples_give_no_figure_and_the_no_data_sentence() -> None:
    view = public_wait_times(WaitSamples({}, {}, {}), {"support": "orders"}, min_samples=5)
    assert view == {"lanes": [], "platforms": {}, "no_data": NO_DATA}


def test_lanes_sharing_a_label_share_one_figure() -> None:
    samples = WaitSamples({"community": [60] * 3, "sales": [60] * 3}, {}, {})
    view = public_wait_times(samples, {"community": "general", "sales": "general"}, min_samples=5)
    assert view["lanes"] == [{"label": "general", "within": "within 5 minutes", "within_seconds": 300}]


# --- no internal names --------------------------------------------------------------------


def test_no_internal_name_reaches_customers() -> None:
    figures = Figures(recent=50, dm_window_seconds=300)
    for lane in OWNERS:
        answer(figures, 1_800, lane, "instagram", n=6)
        answer(figures, 7_000, lane, "whatsapp", n=6)
    labels = {"support": "Help with an order", "community": "Questions"}  # sales and risk: unlabelled
    http = client(figures, settings(public_lane_labels=labels))
    body = http.get("/public/wait-times").text
    page = http.get("/public/banner", params={"platform": "whatsapp"}).text + http.get("/public/banner.js").text
    for internal in [*OWNERS, *OWNERS.values(), "payment_issue", "P2", "security-oncall", "queue", "team", "owner"]:
        assert internal not in body, internal
        assert internal not in page, internal
    view = json.loads(body)
    assert [lane["label"] for lane in view["lanes"]] == ["Help with an order", "Questions"]
    assert view["platforms"]["whatsapp"]["banner"] == "We usually reply within 2 hours on WhatsApp"
    assert view["platforms"]["instagram"]["within"] == "within 30 minutes"
    assert "median" not in body  # only the rounded promise, never the raw figure


def test_lane_labels_must_name_lanes_and_origins_must_be_origins() -> None:
    with pytest.raises(ValueError, match="not lanes: escalations"):
        settings(public_lane_labels={"escalations": "Urgent"})
    with pytest.raises(ValueError, match="1 to 80 characters"):
        settings(public_lane_labels={"support": "  "})
    with pytest.raises(ValueError, match="not web origins"):
        settings(public_allowed_origins=["https://brand.example/page"])
    assert settings(public_allowed_origins=["HTTPS://Brand.example:8443"]).public_allowed_origins == [
        "https://brand.example:8443"
    ]


# --- HTTP: cache, CORS, ETag --------------------------------------------------------------


def test_public_wait_times_are_cacheable_and_readable_from_any_origin_by_default() -> None:
    figures = Figures(recent=50, dm_window_seconds=300)
    answer(figures, 400, n=5)
    http = client(figures, settings(public_cache_seconds=120))
    response = http.get("/public/wait-times", headers={"Origin": "https://shop.example"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "public, max-age=120"
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.json()["platforms"]["instagram"]["within"] == "within 10 minutes"
    etag = response.headers["etag"]
    again = http.get("/public/wait-times", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert again.headers["cache-control"] == "public, max-age=120"


def test_the_etag_changes_when_the_promise_does() -> None:
    figures = Figures(recent=5, dm_window_seconds=300)
    answer(figures, 400, n=5)
    http = client(figures, settings())
    first = http.get("/public/wait-times").headers["etag"]
    answer(figures, 420, n=5)  # still "within 10 minutes": the same body, the same tag
    assert http.get("/public/wait-times").headers["etag"] == first
    answer(figures, 5_000, n=5)
    changed = http.get("/public/wait-times", headers={"If-None-Match": first})
    assert changed.status_code == 200
    assert changed.json()["within"] == "within 2 hours"


def test_only_the_configured_origins_may_read_the_figures() -> None:
    figures = Figures(recent=50, dm_window_seconds=300)
    http = client(figures, settings(public_allowed_origins=["https://brand.example", "https://bio.example"]))
    allowed = http.get("/public/wait-times", headers={"Origin": "https://bio.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://bio.example"
    assert allowed.headers["vary"] == "Origin"
    other = http.get("/public/wait-times", headers={"Origin": "https://elsewhere.example"})
    assert other.status_code == 200
    assert "access-control-allow-origin" not in other.headers
    assert other.headers["vary"] == "Origin"


def test_a_preflight_is_answered() -> None:
    figures = Figures(recent=50, dm_window_seconds=300)
    http = client(figures, settings(public_allowed_origins=["https://brand.example"]))
    preflight = http.options(
        "/public/wait-times",
        headers={
            "Origin": "https://brand.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "if-none-match",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "https://brand.example"
    assert "GET" in preflight.headers["access-control-allow-methods"]
    assert preflight.headers["access-control-allow-headers"] == "If-None-Match"
    refused = http.options("/public/wait-times", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in refused.headers


# --- the banner ---------------------------------------------------------------------------


def csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_the_banner_page_is_self_contained_and_its_script_allowed_by_hash() -> None:
    figures = Figures(recent=50, dm_window_seconds=300)
    response = client(figures, settings(public_cache_seconds=30)).get("/public/banner?platform=Instagram")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "public, max-age=30"
    page = response.text
    assert '<script data-platform="instagram">' in page
    [script] = re.findall(r"<script[^>]*>(.*?)</script>", page, re.S)
    policy = response.headers["content-security-policy"]
    assert f"script-src {csp_hash(script)};" in policy
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy
    assert "frame-ancestors" not in policy  # any page may embed it
    assert not re.search(r"(src|href)\s*=|https?://|@import", page)  # nothing loaded from anywhere
    assert "setInterval(load, 30 * 1000)" in script


def test_an_unknown_platform_is_refused_with_the_known_ones() -> None:
    http = client(Figures(recent=5, dm_window_seconds=300), settings())
    response = http.get("/public/banner", params={"platform": "myspace<script>"})
    assert response.status_code == 400
    assert "instagram" in response.text and "<script>" not in response.headers["content-type"]
    assert http.get("/public/banner").status_code == 200  # no platform: the overall figure


def test_the_script_embed_is_the_same_banner() -> None:
    response = client(Figures(recent=5, dm_window_seconds=300), settings()).get("/public/banner.js")
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.text == banner_script(60)
    assert json.dumps(NO_DATA) in response.text
    assert "innerHTML" not in response.text  # figures are written as text, never as markup


def test_known_platform_folds_case_and_refuses_others() -> None:
    assert known_platform(" WhatsApp ") == "whatsapp"
    assert known_platform("myspace") is None
    assert known_platform(None) is None
    page, _ = banner_page(None, 60)
    assert "<body><script>" in page  # no platform: the overall figure
