"""Export and import in the server: the API endpoints and the import page (admins import)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from configgen import audit, bulk
from configgen.server._app import _api, _form, _page, _Refused, _render, _server


def _format(text: str | None) -> bulk.Format:
    if text not in bulk.FORMATS:
        raise _Refused(422, f"format is one of {', '.join(bulk.FORMATS)}")
    return text


@_api
async def api_export(request: Request) -> Response:
    server = _server(request)
    server.require(request, "viewer")
    format = _format(request.query_params.get("format", "json"))
    keys = [k for k in request.query_params.get("keys", "").split(",") if k] or None
    for key in keys or ():
        server.flag(key)
    stored = await run_in_threadpool(bulk.stored_values, server.editor)
    exported = bulk.export_values(stored, server.flags, keys)
    media = "application/json" if format == "json" else "application/toml"
    headers = (
        {"X-Configgen-Left-Out": ",".join(sorted(exported.invalid))} if exported.invalid else {}
    )
    return Response(bulk.render(exported.values, format), media_type=media, headers=headers)


def _digest(differences: list[bulk.Difference]) -> str:
    """What a plan was made from: the stored values of the flags it changes."""
    seen = [[d.key, audit.etag(d.stored)] for d in differences]
    return hashlib.sha256(json.dumps(seen).encode()).hexdigest()[:32]


def _planned(
    server: Any, text: str, format: bulk.Format, replace: bool
) -> tuple[list[bulk.Difference], list[dict[str, Any]]]:
    wanted, problems = bulk.parse_import(text, server.flags, format=format, shown_as="import")
    if problems:
        raise _Refused(
            422,
            f"the import has {len(problems)} problem(s); nothing was written",
            problems=[
                {"line": p.line, "col": p.col, "key": p.key, "message": p.message} for p in problems
            ],
        )
    stored = bulk.stored_values(server.editor)
    differences = bulk.plan(wanted, stored, server.flags, replace=replace)
    limit = bulk.too_many(server.editor, len(differences))
    if limit is not None:
        raise _Refused(422, limit)
    shown = [
        {"key": d.key, "old": d.old, "new": d.new, "line": bulk.show(d, server.flags)}
        for d in differences
    ]
    return differences, shown


def _apply(server: Any, principal: Any, differences: list[bulk.Difference], note: str) -> None:
    batch = bulk.changes(differences, server.editor, actor=principal.name, note=note)
    try:
        server.editor.change_many(batch)
    except audit.Conflict as exc:
        raise _Refused(412, str(exc)) from None


@_api
async def api_import(request: Request) -> Response:
    server = _server(request)
    principal = server.require(request, "admin")
    server.check_csrf(request, principal, request.headers.get("x-csrf-token", ""))
    query = request.query_params
    format = _format(query.get("format", "json"))
    try:
        text = (await request.body()).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Refused(
            422,
            f"the import is not valid UTF-8 (byte {exc.start}); nothing was written",
            problems=[],
        ) from None
    replace = query.get("replace", "") in ("1", "true", "yes")
    dry_run = query.get("dry_run", "") in ("1", "true", "yes")
    differences, shown = await run_in_threadpool(_planned, server, text, format, replace)
    if not dry_run and differences:
        await run_in_threadpool(_apply, server, principal, differences, query.get("note", ""))
    return JSONResponse({"changes": shown, "applied": bool(differences) and not dry_run})


@_page
async def import_page(request: Request) -> Response:
    server = _server(request)
    principal = server.require(request, "admin")
    return _render(
        request,
        "import.html",
        {
            "csrf": principal.csrf if principal else "",
            "stage": "form",
            "text": "",
            "format": "json",
        },
    )


@_page
async def import_post(request: Request) -> Response:
    server = _server(request)
    principal = server.require(request, "admin")
    form = await _form(request)
    server.check_csrf(request, principal, form.get("csrf", ""))
    assert principal is not None
    format = _format(form.get("format", "json"))
    text, replace = form.get("text", ""), form.get("replace") == "1"
    context = {"csrf": principal.csrf, "text": text, "format": format, "replace": replace}
    try:
        differences, shown = await run_in_threadpool(_planned, server, text, format, replace)
    except _Refused as refused:
        if refused.status != 422:
            raise
        return _render(
            request,
            "import.html",
            {
                **context,
                "stage": "form",
                "error": refused.message,
                "problems": refused.extra.get("problems", []),
            },
            422,
        )
    if form.get("stage") != "confirm":
        return _render(
            request,
            "import.html",
            {**context, "stage": "preview", "changes": shown, "expected": _digest(differences)},
        )
    if form.get("expected") != _digest(differences):
        return _render(
            request,
            "import.html",
            {
                **context,
                "stage": "preview",
                "changes": shown,
                "expected": _digest(differences),
                "error": "the store changed since the preview: here is the diff now",
            },
            409,
        )
    await run_in_threadpool(_apply, server, principal, differences, form.get("note", "")[:2000])
    return RedirectResponse(str(request.url_for("audit")), 303)
