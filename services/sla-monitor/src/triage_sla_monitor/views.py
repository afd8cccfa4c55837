"""The monitor's HTTP views besides /metrics: what customers can expect to wait."""

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from triage_sla_monitor.metrics import Figures


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
