"""The OpenFeature Remote Evaluation Protocol (OFREP v1): any OpenFeature SDK evaluates the
flags remotely, with the generated getters' semantics (`configgen.evaluation.explain`).

``POST /ofrep/v1/evaluate/flags/{key}`` evaluates one flag, ``POST /ofrep/v1/evaluate/flags``
all of them (with ``ETag`` / ``If-None-Match``). The request is ``{"context": {...}}``; the
context's ``targetingKey`` is the targeting key and every other entry an attribute.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from configgen.evaluation import Explanation, explain
from configgen.model import Flag

# configgen's sources of a value, as OpenFeature reasons
REASONS = {
    "expired": "DISABLED",
    "stored": "STATIC",
    "user": "TARGETING_MATCH",
    "segment": "TARGETING_MATCH",
    "rollout": "SPLIT",
    "default": "DEFAULT",
}


class _Failure(Exception):
    def __init__(self, status: int, code: str, details: str) -> None:
        super().__init__(details)
        self.status, self.code, self.details = status, code, details


async def _context(request: Request) -> tuple[str | None, dict[str, object]]:
    body = await request.body()
    if not body.strip():
        return None, {}
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise _Failure(400, "PARSE_ERROR", f"the request body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise _Failure(400, "PARSE_ERROR", 'the request body is a JSON object: {"context": {...}}')
    context = data.get("context", {})
    if context is None:
        context = {}
    if not isinstance(context, dict):
        raise _Failure(400, "INVALID_CONTEXT", "context must be a JSON object")
    key = context.get("targetingKey")
    if key is not None and not isinstance(key, str):
        raise _Failure(400, "INVALID_CONTEXT", "targetingKey must be a string")
    attributes = {name: value for name, value in context.items() if name != "targetingKey"}
    return key or None, attributes


def _result(flag: Flag, found: Explanation, has_key: bool) -> dict[str, Any]:
    reason = REASONS[found.source]
    if flag.kind == "percent" and found.source in ("stored", "rollout"):
        reason = "SPLIT" if has_key else "DEFAULT"
    value = found.value
    return {
        "key": flag.key,
        "value": value,
        "reason": reason,
        "variant": json.dumps(value) if not isinstance(value, str) else value,
        "metadata": {"explanation": found.reason, "type": flag.kind},
    }


def _evaluate(
    server: Any, key: str | None, attributes: dict[str, object], only: Flag | None
) -> list[dict[str, Any]]:
    flags = [only] if only is not None else list(server.flags.values())
    raws = (
        {only.key: server.editor.read(only.key)} if only is not None else server.editor.read_all()
    )
    return [
        _result(
            flag,
            explain(
                flag,
                server.segments,
                raws.get(flag.key),
                key,
                attributes,
                scheme=server.schema.bucketing,
            ),
            key is not None,
        )
        for flag in flags
    ]


def _authorise(server: Any, request: Request) -> None:
    """A bearer token (or ``X-API-Key``), a session, or anonymous viewers, as configured."""
    from configgen.server._app import _Refused

    api_key = request.headers.get("x-api-key")
    if api_key and "authorization" not in request.headers:
        request.scope["headers"] = [
            *request.scope["headers"],
            (b"authorization", f"Bearer {api_key}".encode()),
        ]
        request = Request(request.scope, request.receive)
    try:
        server.require(request, "viewer")
    except _Refused as refused:
        raise _Failure(refused.status, "GENERAL", refused.message) from None


async def evaluate_flag(request: Request) -> Response:
    from configgen.server._app import _server

    server = _server(request)
    key_in_path = request.path_params["key"]
    try:
        _authorise(server, request)
        flag = server.flags.get(key_in_path)
        if flag is None:
            raise _Failure(
                404, "FLAG_NOT_FOUND", f"no flag {key_in_path!r} in {server.schema.source}"
            )
        key, attributes = await _context(request)
        (result,) = await run_in_threadpool(_evaluate, server, key, attributes, flag)
    except _Failure as failure:
        return _failure(failure, key_in_path)
    return JSONResponse(result)


async def evaluate_flags(request: Request) -> Response:
    from configgen.server._app import _server

    server = _server(request)
    try:
        _authorise(server, request)
        key, attributes = await _context(request)
        results = await run_in_threadpool(_evaluate, server, key, attributes, None)
    except _Failure as failure:
        return _failure(failure, None)
    body = json.dumps({"flags": results}, sort_keys=True).encode("utf-8")
    tag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    match = request.headers.get("if-none-match", "")
    if tag in [part.strip() for part in match.split(",")] or match.strip() == "*":
        return Response(status_code=304, headers={"ETag": tag})
    return Response(body, media_type="application/json", headers={"ETag": tag})


def _failure(failure: _Failure, key: str | None) -> Response:
    if failure.status in (401, 403):
        headers = {"WWW-Authenticate": "Bearer"} if failure.status == 401 else None
        return JSONResponse({"errorDetails": failure.details}, failure.status, headers=headers)
    body: dict[str, Any] = {"errorCode": failure.code, "errorDetails": failure.details}
    if key is not None:
        body["key"] = key
    return JSONResponse(body, failure.status)
