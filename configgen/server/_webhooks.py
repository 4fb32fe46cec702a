"""The webhooks' pages and API: the delivery log, a test event, redelivery (admins only)."""

from __future__ import annotations

import dataclasses
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from configgen.server._app import _api, _form, _page, _Refused, _render, _server


def _dispatcher(request: Request) -> Any:
    dispatcher = getattr(request.app.state, "webhooks", None)
    if dispatcher is None:
        raise _Refused(404, "no webhooks are configured: add [[webhooks]] to the server config")
    return dispatcher


def _public(record: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in record.items() if key != "body"}


@_api
async def api_deliveries(request: Request) -> Response:
    _server(request).require(request, "admin")
    dispatcher = _dispatcher(request)
    endpoint = request.query_params.get("endpoint")
    try:
        limit = min(max(int(request.query_params.get("limit", "100")), 1), 1000)
    except ValueError:
        raise _Refused(422, "limit is a whole number") from None
    records = await run_in_threadpool(dispatcher.outbox.recent, endpoint, limit)
    endpoints = [
        {"id": e.id, "url": e.shown, "events": list(e.events), "name": e.name}
        for e in dispatcher.endpoints.values()
    ]
    return JSONResponse(
        {
            "endpoints": endpoints,
            "deliveries": [
                _public(r) for r in records if not str(r.get("id", "")).startswith("endpoint.")
            ],
        }
    )


async def _admin_change(request: Request, form_token: str) -> Any:
    server = _server(request)
    principal = server.require(request, "admin")
    server.check_csrf(request, principal, form_token)
    return _dispatcher(request)


@_api
async def api_test(request: Request) -> Response:
    dispatcher = await _admin_change(request, request.headers.get("x-csrf-token", ""))
    ids = await run_in_threadpool(
        lambda: dispatcher.queue("webhook.test", None, every_endpoint=True)
    )
    dispatcher.wake.set()
    return JSONResponse({"deliveries": ids}, 202)


@_api
async def api_redeliver(request: Request) -> Response:
    dispatcher = await _admin_change(request, request.headers.get("x-csrf-token", ""))
    record = await run_in_threadpool(dispatcher.redeliver, request.path_params["id"])
    if record is None:
        raise _Refused(404, "no such delivery")
    return JSONResponse(_public(record), 202)


@_page
async def page(request: Request) -> Response:
    server = _server(request)
    principal = server.require(request, "admin")
    dispatcher = _dispatcher(request)
    records = await run_in_threadpool(dispatcher.outbox.recent, None, 200)
    deliveries = [r for r in records if not str(r.get("id", "")).startswith("endpoint.")]
    disabled = {
        str(r.get("endpoint")) for r in records if str(r.get("id", "")).startswith("endpoint.")
    }
    endpoints = [
        {
            **dataclasses.asdict(e),
            "id": e.id,
            "url": e.shown,
            "disabled": e.id in disabled,
            "secrets": None,
        }
        for e in dispatcher.endpoints.values()
    ]
    return _render(
        request,
        "webhooks.html",
        {
            "endpoints": endpoints,
            "deliveries": deliveries,
            "csrf": principal.csrf if principal else "",
        },
    )


@_page
async def page_action(request: Request) -> Response:
    form = await _form(request)
    dispatcher = await _admin_change(request, form.get("csrf", ""))
    if form.get("action") == "test":
        await run_in_threadpool(lambda: dispatcher.queue("webhook.test", None, every_endpoint=True))
        dispatcher.wake.set()
    elif form.get("action") == "redeliver":
        if await run_in_threadpool(dispatcher.redeliver, form.get("id", "")) is None:
            raise _Refused(404, "no such delivery")
    else:
        raise _Refused(422, "unknown action")
    return RedirectResponse(str(request.url_for("webhooks")), 303)
