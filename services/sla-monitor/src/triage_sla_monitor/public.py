"""What customers are told about reply times: the public wait-time figures and banner.

Pure: recent first responses in (the same samples as the wait estimate and the
metrics), a customer-facing view out. The view shows platforms by their product name
and lanes only by the labels the settings give them (no owner, team, queue or lane id),
rounds each median up to a friendly step ("within 2 hours"), and leaves out a figure
with fewer samples than the settings ask for rather than show noise. The banner is one
small script with no external resource: it fetches the figures and writes the sentence
("We usually reply within 2 hours on Instagram"), or a no-data sentence.
"""

import base64
import hashlib
import html
import json
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from triage_schemas.enums import Platform

MINUTE, HOUR, DAY, WEEK = 60, 3_600, 86_400, 604_800
# the promises a customer reads: a median is rounded up to the first step at or above it;
# a median beyond the last step is left out (no banner says "within 3 weeks")
STEPS = (
    5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE,
    HOUR, 2 * HOUR, 3 * HOUR, 4 * HOUR, 6 * HOUR, 8 * HOUR, 12 * HOUR,
    DAY, 2 * DAY, 3 * DAY, WEEK,
)  # fmt: skip
PLATFORMS = frozenset(p.value for p in Platform)
PLATFORM_NAMES = {
    Platform.INSTAGRAM: "Instagram",
    Platform.FACEBOOK: "Facebook",
    Platform.MESSENGER: "Messenger",
    Platform.WHATSAPP: "WhatsApp",
    Platform.X: "X",
    Platform.TIKTOK: "TikTok",
    Platform.YOUTUBE: "YouTube",
    Platform.LINKEDIN: "LinkedIn",
    Platform.TELEGRAM: "Telegram",
}
BANNER = "We usually reply {within}"
BANNER_ON = "We usually reply {within} on {platform}"
NO_DATA = "We reply to every message as soon as we can."


@dataclass(frozen=True)
class WaitSamples:
    """Recent first responses (seconds) per lane, per platform and per (lane, platform)."""

    by_lane: Mapping[str, Sequence[float]]
    by_platform: Mapping[str, Sequence[float]]
    by_lane_platform: Mapping[tuple[str, str], Sequence[float]]


def step_up(seconds: float) -> int | None:
    """The friendly step at or above ``seconds``; None beyond the last one."""
    return next((step for step in STEPS if seconds <= step), None)


def duration(seconds: int) -> str:
    """``3600`` → "an hour", ``7200`` → "2 hours", ``86400`` → "a day"."""
    for unit, one, many in ((WEEK, "a week", "weeks"), (DAY, "a day", "days"), (HOUR, "an hour", "hours")):
        if seconds % unit == 0:
            count = seconds // unit
            return one if count == 1 else f"{count} {many}"
    minutes = -(-seconds // MINUTE)
    return "a minute" if minutes == 1 else f"{minutes} minutes"


def within(samples: Sequence[float], min_samples: int) -> dict[str, Any] | None:
    """The rounded promise behind ``samples``, or None with too few of them or too slow a median."""
    if len(samples) < min_samples:
        return None
    step = step_up(statistics.median(samples))
    if step is None:
        return None
    return {"within": f"within {duration(step)}", "within_seconds": step}


def platform_name(platform: str) -> str:
    return PLATFORM_NAMES[Platform(platform)] if platform in PLATFORMS else platform


def known_platform(value: str | None) -> str | None:
    """A ``?platform=`` value as a platform id ("Instagram" → "instagram"); None when it is none."""
    if value is None:
        return None
    folded = value.strip().lower()
    return folded if folded in PLATFORMS else None


def _labelled(
    lane_labels: Mapping[str, str], samples: Mapping[str, Sequence[float]]
) -> Iterable[tuple[str, list[float]]]:
    """The samples of lanes that have a public label, merged per label, in the settings' order."""
    merged: dict[str, list[float]] = {}
    for lane, label in lane_labels.items():
        merged.setdefault(label, []).extend(samples.get(lane, ()))
    return merged.items()


def _lanes(lane_labels: Mapping[str, str], samples: Mapping[str, Sequence[float]], min_samples: int) -> list[Any]:
    lanes = []
    for label, values in _labelled(lane_labels, samples):
        figure = within(values, min_samples)
        if figure is not None:
            lanes.append({"label": label, **figure})
    return lanes


def public_wait_times(samples: WaitSamples, lane_labels: Mapping[str, str], min_samples: int) -> dict[str, Any]:
    """The customer-facing figures: overall, per public lane label and per platform.

    The overall and per-platform figures count every lane's first responses (a lane without
    a public label is never named, but its replies are replies); per-lane figures exist only
    for labelled lanes."""
    view: dict[str, Any] = {}
    overall = within([v for values in samples.by_lane.values() for v in values], min_samples)
    if overall is not None:
        view.update(overall, banner=BANNER.format(within=overall["within"]))
    view["lanes"] = _lanes(lane_labels, samples.by_lane, min_samples)
    platforms: dict[str, Any] = {}
    for platform in sorted(p for p in samples.by_platform if p in PLATFORMS):
        figure = within(samples.by_platform[platform], min_samples)
        if figure is None:
            continue
        name = platform_name(platform)
        on_platform = {lane: v for (lane, p), v in samples.by_lane_platform.items() if p == platform}
        platforms[platform] = {
            "name": name,
            **figure,
            "banner": BANNER_ON.format(within=figure["within"], platform=name),
            "lanes": _lanes(lane_labels, on_platform, min_samples),
        }
    view["platforms"] = platforms
    view["no_data"] = NO_DATA
    return view


# --- the banner -------------------------------------------------------------------------

_SCRIPT = """(function () {
  "use strict";
  var me = document.currentScript;
  if (!me || !window.fetch) return;
  var url = new URL("wait-times", me.src || location.href).href;
  var platform = me.getAttribute("data-platform") || "";
  var box = document.createElement("p");
  box.className = "triage-wait-banner";
  box.setAttribute("aria-live", "polite");
  me.parentNode.insertBefore(box, me);
  function own(object, key) {
    return object && Object.prototype.hasOwnProperty.call(object, key) ? object[key] : null;
  }
  function show(data) {
    var figure = platform ? own(own(data, "platforms"), platform) : data;
    var text = own(figure, "banner");
    box.textContent = text || own(data, "no_data") || NO_DATA;
    box.setAttribute("data-state", text ? "figure" : "no-data");
  }
  function load() {
    fetch(url, {credentials: "omit"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(show, function () { show(null); });
  }
  load();
  if (REFRESH > 0) setInterval(load, REFRESH * 1000);
})();
"""
_STYLE = (
    "html,body{margin:0;background:transparent}"
    ".triage-wait-banner{margin:0;padding:8px 12px;"
    'font:15px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1f2933}'
)


def _js_constant(value: object) -> str:
    # JSON is a JavaScript literal; "</" is escaped so the text cannot end an inline <script>
    return json.dumps(value).replace("</", "<\\/")


def banner_script(refresh_seconds: int) -> str:
    """The script a brand's page loads (``<script src=".../public/banner.js" data-platform=...>``);
    the banner page inlines the same one. It writes the sentence just before itself."""
    return _SCRIPT.replace("NO_DATA", _js_constant(NO_DATA)).replace("REFRESH", str(int(refresh_seconds)))


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def banner_page(platform: str | None, refresh_seconds: int) -> tuple[str, str]:
    """The page an ``<iframe>`` shows, and its Content-Security-Policy: the inline script and
    style by hash, requests to its own origin only, nothing else."""
    script = banner_script(refresh_seconds)
    attribute = f' data-platform="{html.escape(platform)}"' if platform else ""
    page = (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Reply times</title><style>{_STYLE}</style></head>\n"
        f"<body><script{attribute}>{script}</script></body></html>\n"
    )
    policy = (
        f"default-src 'none'; script-src {_csp_hash(script)}; style-src {_csp_hash(_STYLE)}; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'"
    )
    return page, policy
