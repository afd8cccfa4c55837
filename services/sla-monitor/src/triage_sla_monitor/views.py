"""The monitor's HTTP views besides /metrics: what customers can expect to wait.

``/wait-times`` is the internal figure (medians per lane, in seconds). ``/public/...`` is
what a brand may show its customers, built by ``public.py`` from the same samples:
``/public/wait-times`` (JSON, cacheable, readable cross-origin by the configured
origins), ``/public/banner`` (a page for an ``<iframe>``) and ``/public/banner.js`` (the
same banner as a ``<script>`` on the brand's own page).
"""

import hashlib
import json
import time
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from triage_sla_monitor.config import SlaMonitorSettings
from triage_sla_monitor.metrics import Figures
from triage_sla_monitor.public import (
    PLATFORMS,
    WaitSamples,
    banner_page,
    banner_script,
    known_platform,
    public_wait_times,
)


def wait_times_route(figures: Figures) -> Route:
    async def wait_times(_: Request) -> Response:
        waits = figures.wait_times()
        return JSONResponse(
            {
                "lanes": {lane: {"median_first_response_seconds": round(v, 1)} for lane, v in waits.items()},
                "at": datetime.now(UTC).isoformat(),
            }
        )

    return Route("/wait-times", wait_times)


class PublicWaitTimes:
    """The public figures as served: computed at most once per refresh interval (the
    endpoint faces the internet; the figures change slower than it can be asked)."""

    def __init__(self, figures: Figures, settings: SlaMonitorSettings) -> None:
        self.figures = figures
        self.settings = settings
        self.refresh = min(float(settings.public_cache_seconds), settings.gauges_seconds)
        self.computed_at = float("-inf")
        self.body = b""
        self.etag = ""

    def current(self) -> tuple[bytes, str]:
        now = time.monotonic()
        if now - self.computed_at >= self.refresh:
            figures = self.figures
            samples = WaitSamples(figures.recent, figures.recent_by_platform, figures.recent_by_lane_platform)
            view = public_wait_times(samples, self.settings.public_lane_labels, self.settings.public_min_samples)
            self.body = json.dumps(view, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            self.etag = '"' + hashlib.sha256(self.body).hexdigest()[:20] + '"'
            self.computed_at = now
        return self.body, self.etag

    def cache_headers(self) -> dict[str, str]:
        return {"Cache-Control": f"public, max-age={self.settings.public_cache_seconds}"}

    def cors_headers(self, request: Request) -> dict[str, str]:
        allowed = self.settings.public_allowed_origins
        if "*" in allowed:
            return {"Access-Control-Allow-Origin": "*"}
        headers = {"Vary": "Origin"}
        origin = request.headers.get("origin", "").lower()
        if origin in allowed:
            headers["Access-Control-Allow-Origin"] = origin
        return headers

    async def wait_times(self, request: Request) -> Response:
        cors = self.cors_headers(request)
        if request.method == "OPTIONS":
            return Response(
                status_code=204,
                headers={
                    **cors,
                    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
                    "Access-Control-Allow-Headers": "If-None-Match",
                    "Access-Control-Max-Age": str(self.settings.public_cache_seconds),
                },
            )
        body, etag = self.current()
        headers = {**self.cache_headers(), **cors, "ETag": etag, "X-Content-Type-Options": "nosniff"}
        if etag in (tag.strip() for tag in request.headers.get("if-none-match", "").split(",")):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="application/json", headers=headers)

    async def banner(self, request: Request) -> Response:
        asked = request.query_params.get("platform")
        platform = known_platform(asked)
        if asked and platform is None:
            return PlainTextResponse(
                f"unknown platform {asked[:40]!r}; one of: {', '.join(sorted(PLATFORMS))}", status_code=400
            )
        page, policy = banner_page(platform, self.settings.public_cache_seconds)
        headers = {
            **self.cache_headers(),
            "Content-Security-Policy": policy,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        }
        return Response(page, media_type="text/html; charset=utf-8", headers=headers)

    async def script(self, _: Request) -> Response:
        headers = {**self.cache_headers(), "X-Content-Type-Options": "nosniff"}
        script = banner_script(self.settings.public_cache_seconds)
        return Response(script, media_type="text/javascript; charset=utf-8", headers=headers)


def public_routes(figures: Figures, settings: SlaMonitorSettings) -> list[Route]:
    public = PublicWaitTimes(figures, settings)
    return [
        Route("/public/wait-times", public.wait_times, methods=["GET", "HEAD", "OPTIONS"]),
        Route("/public/banner", public.banner, methods=["GET", "HEAD"]),
        Route("/public/banner.js", public.script, methods=["GET", "HEAD"]),
    ]
