"""The operator server: a Starlette app with the web UI, the JSON API, auth and security."""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from configgen import audit, values
from configgen.evaluation import explain
from configgen.model import Flag, FlagsSchema, Segment
from configgen.server import _auth, _ofrep
from configgen.server._config import Role, ServerConfig, allows

_HERE = Path(__file__).resolve().parent
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
MAX_NOTE = 2000
"""Characters a change's note may have."""
HostUser = Callable[[Request], "tuple[str, Role] | None"]
"""A host app's hook: the user of a request and their role, or None."""


class _Refused(Exception):
    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


@dataclasses.dataclass
class _Server:
    schema: FlagsSchema
    editor: audit.Editor
    config_source: Callable[[], ServerConfig]
    host_user: HostUser | None
    limiter: _auth.LoginLimiter
    templates: jinja2.Environment
    ephemeral_secret: str

    def __post_init__(self) -> None:
        self.flags: dict[str, Flag] = {flag.key: flag for flag in self.schema.flags()}
        self.segments: dict[str, Segment] = {s.name: s for s in self.schema.segments}

    @property
    def config(self) -> ServerConfig:
        config = self.config_source()
        if not config.session_secret:
            config = dataclasses.replace(config, session_secret=self.ephemeral_secret)
        return config

    # -- who is asking -----------------------------------------------------------------

    def principal(self, request: Request) -> _auth.Principal | None:
        config = self.config
        if self.host_user is not None:
            found = self.host_user(request)
            if found is not None:
                return _auth.Principal(found[0], found[1], "host", self.csrf_for(found[0]))
        header = request.headers.get("authorization", "")
        if header[:7].lower() == "bearer ":
            principal = _auth.token_principal(config, header[7:].strip())
            if principal is None:
                raise _Refused(401, "the bearer token is not valid")
            return principal
        proxy = config.proxy
        if proxy is not None and request.headers.get(proxy.header):
            if not proxy.believes(request.client.host if request.client else None):
                raise _Refused(403, f"{proxy.header} is believed only from the trusted proxy")
            name = request.headers[proxy.header]
            role = request.headers.get(proxy.role_header or "", proxy.default_role)
            if role not in ("viewer", "editor", "admin"):
                raise _Refused(403, f"unknown role {role!r} from the proxy")
            return _auth.Principal(name, role, "proxy", self.csrf_for(name))  # type: ignore[arg-type]
        return _auth.read_session(config, request.cookies.get(_auth.COOKIE))

    def csrf_for(self, name: str) -> str:
        key = hashlib.sha256(b"configgen-csrf\0" + self.config.session_secret.encode()).digest()
        return hmac.new(key, name.encode(), hashlib.sha256).hexdigest()[:32]

    def require(self, request: Request, needed: Role) -> _auth.Principal | None:
        """The principal, if it may do what *needed* may; None for anonymous viewers."""
        principal = self.principal(request)
        if principal is None:
            if needed == "viewer" and self.config.anonymous_viewers:
                return None
            raise _Refused(401, "log in first")
        if not allows(principal.role, needed):
            raise _Refused(403, f"{principal.name} is a {principal.role}; this needs {needed}")
        return principal

    def check_csrf(self, request: Request, principal: _auth.Principal | None, sent: str) -> None:
        """Ambient credentials (a cookie, a proxy, a host app) need the form's token and a
        same-origin request; a bearer token is not sent by browsers on their own."""
        if principal is None or principal.kind == "token":
            return
        origin = request.headers.get("origin")
        if origin is not None and origin != _origin(request):
            raise _Refused(403, "the request comes from another site (Origin)")
        site = request.headers.get("sec-fetch-site")
        if site is not None and site not in ("same-origin", "none"):
            raise _Refused(403, f"the request comes from another site (Sec-Fetch-Site: {site})")
        if not sent or not hmac.compare_digest(sent, principal.csrf):
            raise _Refused(403, "the form is missing its CSRF token, or it is not this session's")

    # -- flags -------------------------------------------------------------------------

    def flag(self, key: str) -> Flag:
        flag = self.flags.get(key)
        if flag is None:
            raise _Refused(404, f"no flag {key!r} in {self.schema.source}")
        return flag

    def describe(self, flag: Flag, raw: object) -> dict[str, Any]:
        """A flag's definition and its current value, as the API and the pages show it."""
        today = datetime.datetime.now(datetime.timezone.utc).date()
        current, source, problem = flag.default, "default", None
        if raw is not None:
            try:
                current, source = values.from_stored(flag, raw), "store"
            except ValueError as exc:
                problem = str(exc)
        return {
            "key": flag.key,
            "category": ".".join(flag.path[:-1]),
            "type": flag.kind,
            "description": flag.description,
            "default": flag.default,
            "values": list(flag.values),
            "expires": flag.expires.isoformat() if flag.expires else None,
            "expired": bool(flag.expires and today > flag.expires),
            "targeting": {
                "users": list(flag.users),
                "segments": list(flag.segments),
                "rollout": flag.rollout,
            },
            "value": current,
            "source": source,
            "stored": raw if problem is not None else None,
            "problem": problem,
            "etag": audit.etag(raw),
        }

    def change(
        self,
        principal: _auth.Principal,
        flag: Flag,
        expected: str | list[str],
        new: values.Value | None,
        note: str,
        channel: audit.Channel,
    ) -> dict[str, Any]:
        """Write *new* (None: back to the default) over the value whose ETag is *expected*
        (or one of several; ``*``: whatever is stored)."""
        raw = self.editor.read(flag.key)
        tags = [expected] if isinstance(expected, str) else expected
        if "*" not in tags and audit.etag(raw) not in tags:
            raise _Refused(
                412,
                "the flag changed since it was read: nothing was written",
                current=self.describe(flag, raw),
            )
        old = values.from_stored(flag, raw) if _valid(flag, raw) else raw
        entry = audit.new_entry(
            actor=principal.name, channel=channel, flag=flag.key, old=old, new=new, note=note
        )
        encoded = None if new is None else self.editor.encode(new)
        try:
            self.editor.change(flag.key, raw, encoded, entry)
        except audit.Conflict as exc:
            raise _Refused(412, str(exc), current=self.describe(flag, exc.current)) from None
        return self.describe(flag, encoded)


def _if_match(header: str, request: Request) -> list[str]:
    """The entity tags of an ``If-Match`` header: a list, or ``*``."""
    return [tag.strip() for tag in header.split(",") if tag.strip()] or [""]


def _valid(flag: Flag, raw: object) -> bool:
    if raw is None:
        return False
    try:
        values.from_stored(flag, raw)
    except ValueError:
        return False
    return True


def _origin(request: Request) -> str:
    """The origin browsers address this server by: ``public-origin``, else the request's."""
    configured = _server(request).config.public_origin
    if configured:
        return configured
    url = request.url
    default = {"http": 80, "https": 443}.get(url.scheme)
    port = f":{url.port}" if url.port and url.port != default else ""
    return f"{url.scheme}://{url.hostname}{port}"


def _server(request: Request) -> _Server:
    server: _Server = request.app.state.configgen
    return server


Handler = Callable[[Request], Awaitable[Response]]


_log = logging.getLogger("configgen.server")


async def _guarded(handler: Handler, request: Request) -> Response:
    """The handler's answer; a request too large, or a failure, is a `_Refused` too (so that
    every answer carries the security headers and no traceback reaches the client)."""
    try:
        return await handler(request)
    except _Refused:
        raise
    except _TooLarge as exc:
        raise _Refused(413, str(exc)) from None
    except RecursionError:
        raise _Refused(422, "the request is nested too deeply") from None
    except Exception:
        _log.exception("%s %s failed", request.method, request.url.path)
        raise _Refused(500, "the server failed to answer; the details are in its log") from None


def _api(handler: Handler) -> Handler:
    async def wrapped(request: Request) -> Response:
        try:
            return await _guarded(handler, request)
        except _Refused as refused:
            body = {"error": refused.message, **refused.extra}
            headers = {"WWW-Authenticate": "Bearer"} if refused.status == 401 else None
            return JSONResponse(body, refused.status, headers=headers)

    return wrapped


def _page(handler: Handler) -> Handler:
    async def wrapped(request: Request) -> Response:
        try:
            return await _guarded(handler, request)
        except _Refused as refused:
            if refused.status == 401 and request.method == "GET":
                login = request.url_for("login").include_query_params(next=request.url.path)
                return RedirectResponse(str(login), 303)
            return _render(
                request,
                "error.html",
                {"status": refused.status, "message": refused.message},
                refused.status,
            )

    return wrapped


def _render(
    request: Request, name: str, context: Mapping[str, Any], status: int = 200
) -> HTMLResponse:
    server = _server(request)
    try:
        principal = server.principal(request)
    except _Refused:
        principal = None
    page = server.templates.get_template(name).render(
        request=request,
        user=principal,
        url=lambda route, **params: str(request.url_for(route, **params)),
        source=server.schema.source,
        **context,
    )
    return HTMLResponse(page, status)


# -- the JSON API ------------------------------------------------------------------------------


@_api
async def api_flags(request: Request) -> Response:
    server = _server(request)
    server.require(request, "viewer")
    raws = await run_in_threadpool(server.editor.read_all)
    flags = [server.describe(flag, raws.get(key)) for key, flag in server.flags.items()]
    version = hashlib.sha256(json.dumps([f["etag"] for f in flags]).encode()).hexdigest()[:16]
    return JSONResponse({"flags": flags, "version": version})


@_api
async def api_flag(request: Request) -> Response:
    server = _server(request)
    server.require(request, "viewer")
    flag = server.flag(request.path_params["key"])
    if request.method == "GET":
        described = server.describe(flag, await run_in_threadpool(server.editor.read, flag.key))
        return JSONResponse(described, headers={"ETag": described["etag"]})
    principal = server.require(request, "editor")
    assert principal is not None
    server.check_csrf(request, principal, request.headers.get("x-csrf-token", ""))
    expected = request.headers.get("if-match")
    if expected is None:
        raise _Refused(
            428,
            "send If-Match with the ETag of the value you replace "
            "(GET the flag first), or If-Match: * to replace any value",
        )
    note, new = "", None
    if request.method == "PUT":
        try:
            body = await request.json()
        except ValueError:
            raise _Refused(
                422, 'the body is not JSON: send {"value": ..., "note": "..."}'
            ) from None
        if not isinstance(body, dict) or "value" not in body:
            raise _Refused(422, 'send {"value": ..., "note": "..."}')
        try:
            new = values.from_json(flag, body["value"])
        except ValueError as exc:
            raise _Refused(422, str(exc)) from None
        note = str(body.get("note") or "")
    else:
        note = request.query_params.get("note", "")
    if len(note) > MAX_NOTE:
        raise _Refused(422, f"a note has at most {MAX_NOTE:,} characters")
    described = await run_in_threadpool(
        server.change, principal, flag, _if_match(expected, request), new, note, "api"
    )
    return JSONResponse(described, headers={"ETag": described["etag"]})


@_api
async def api_audit(request: Request) -> Response:
    server = _server(request)
    server.require(request, "viewer")
    key = request.query_params.get("flag")
    if key is not None:
        server.flag(key)
    try:
        limit = min(max(int(request.query_params.get("limit", "50")), 1), 500)
    except ValueError:
        raise _Refused(422, "limit is a whole number") from None
    before = request.query_params.get("before")
    entries = await run_in_threadpool(
        lambda: server.editor.history(key, limit=limit + 1, before=before)
    )
    more = len(entries) > limit
    entries = entries[:limit]
    return JSONResponse(
        {
            "entries": [dataclasses.asdict(entry) for entry in entries],
            "next": entries[-1].id if more and entries else None,
        }
    )


# -- the pages ----------------------------------------------------------------------------------


@_page
async def index(request: Request) -> Response:
    server = _server(request)
    principal = server.require(request, "viewer")
    raws = await run_in_threadpool(server.editor.read_all)
    rows = [server.describe(flag, raws.get(key)) for key, flag in server.flags.items()]
    return _render(
        request,
        "index.html",
        {
            "rows": rows,
            "can_edit": _can_edit(principal),
            "csrf": principal.csrf if principal else "",
        },
    )


def _can_edit(principal: _auth.Principal | None) -> bool:
    return principal is not None and allows(principal.role, "editor")


@_page
async def flag_page(request: Request) -> Response:
    server = _server(request)
    principal = server.require(request, "viewer")
    flag = server.flag(request.path_params["key"])
    row = server.describe(flag, await run_in_threadpool(server.editor.read, flag.key))
    history = await run_in_threadpool(lambda: server.editor.history(flag.key, limit=50))
    return _render(
        request,
        "flag.html",
        {
            "row": row,
            "history": history,
            "can_edit": _can_edit(principal),
            "csrf": principal.csrf if principal else "",
            "done": request.query_params.get("done"),
        },
    )


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


@_page
async def preview(request: Request) -> Response:
    """The confirmation step: old -> new, and a note."""
    server = _server(request)
    principal = server.require(request, "editor")
    form = await _form(request)
    server.check_csrf(request, principal, form.get("csrf", ""))
    assert principal is not None
    flag = server.flag(request.path_params["key"])
    row = server.describe(flag, await run_in_threadpool(server.editor.read, flag.key))
    if form.get("expected", row["etag"]) != row["etag"]:  # the page is older than the value
        message = "the flag changed since the page was loaded: nothing was written"
        return _render(request, "conflict.html", {"row": row, "message": message}, 409)
    action = form.get("action", "set")
    if action not in ("set", "delete"):
        raise _Refused(422, "the form's action is set or delete")
    new: values.Value | None = None
    if action == "set":
        try:
            new = values.from_text(flag, form.get("value", ""))
        except ValueError as exc:
            return _render(
                request,
                "flag.html",
                {
                    "row": row,
                    "history": [],
                    "can_edit": True,
                    "csrf": principal.csrf,
                    "error": str(exc),
                    "typed": form.get("value", ""),
                    "done": None,
                },
                422,
            )
    return _render(
        request,
        "confirm.html",
        {
            "row": row,
            "action": action,
            "new": new,
            "new_text": "" if new is None else values.to_text(new),
            "expected": form.get("expected", row["etag"]),
            "csrf": principal.csrf,
        },
    )


@_page
async def apply(request: Request) -> Response:
    server = _server(request)
    principal = server.require(request, "editor")
    form = await _form(request)
    server.check_csrf(request, principal, form.get("csrf", ""))
    assert principal is not None
    flag = server.flag(request.path_params["key"])
    new: values.Value | None = None
    if form.get("action", "set") not in ("set", "delete"):
        raise _Refused(422, "the form's action is set or delete")
    if form.get("action", "set") == "set":
        try:
            new = values.from_text(flag, form.get("value", ""))
        except ValueError as exc:
            raise _Refused(422, str(exc)) from None
    try:
        await run_in_threadpool(
            server.change,
            principal,
            flag,
            form.get("expected", ""),
            new,
            form.get("note", "")[:2000],
            "ui",
        )
    except _Refused as refused:
        if refused.status != 412:
            raise
        return _render(
            request,
            "conflict.html",
            {"row": refused.extra["current"], "message": refused.message},
            409,
        )
    target = request.url_for("flag", key=flag.key).include_query_params(done="1")
    return RedirectResponse(str(target), 303)


@_page
async def audit_page(request: Request) -> Response:
    server = _server(request)
    server.require(request, "viewer")
    before = request.query_params.get("before")
    entries = await run_in_threadpool(lambda: server.editor.history(None, limit=51, before=before))
    more = len(entries) > 50
    return _render(
        request, "audit.html", {"entries": entries[:50], "next": entries[49].id if more else None}
    )


@_page
async def evaluate_page(request: Request) -> Response:
    server = _server(request)
    server.require(request, "viewer")
    query = request.query_params
    key = query.get("targeting_key") or None
    attributes, problems = _attributes(query.get("attributes", ""))
    results = []
    if "targeting_key" in query:
        raws = await run_in_threadpool(server.editor.read_all)
        for flag_key, flag in server.flags.items():
            found = explain(
                flag,
                server.segments,
                raws.get(flag_key),
                key,
                attributes,
                scheme=server.schema.bucketing,
            )
            results.append(
                {
                    "key": flag_key,
                    "type": flag.kind,
                    "value": found.value,
                    "source": found.source,
                    "reason": found.reason,
                }
            )
    return _render(
        request,
        "evaluate.html",
        {
            "results": results,
            "targeting_key": key or "",
            "attributes": query.get("attributes", ""),
            "problems": problems,
        },
    )


def _attributes(text: str) -> tuple[dict[str, object], list[str]]:
    """``name = value`` lines; a value is JSON (``1``, ``true``, ``"x"``) or else a string."""
    found: dict[str, object] = {}
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            problems.append(f"line {number}: write name = value")
            continue
        try:
            found[name.strip()] = json.loads(value.strip())
        except ValueError:
            found[name.strip()] = value.strip()
    return found, problems


@_page
async def login_page(request: Request) -> Response:
    return _render(request, "login.html", {"next": _next(request), "error": None})


def _next(request: Request) -> str:
    target = request.query_params.get("next", "")
    # only a path on this site: never an absolute URL or //host
    return target if target.startswith("/") and not target.startswith("//") else ""


@_page
async def login_post(request: Request) -> Response:
    server = _server(request)
    form = await _form(request)
    name, password = form.get("name", ""), form.get("password", "")
    address = request.client.host if request.client else "?"
    origin = request.headers.get("origin")
    site = request.headers.get("sec-fetch-site")
    if (origin is not None and origin != _origin(request)) or site not in (
        None,
        "same-origin",
        "none",
    ):
        raise _Refused(403, "the login form was sent from another site")
    wait = server.limiter.attempt(address, name)
    if wait > 0:
        response = _render(
            request,
            "login.html",
            {
                "next": form.get("next", ""),
                "error": f"too many failed logins: try again in {wait:.0f} s",
            },
            429,
        )
        response.headers["Retry-After"] = str(int(wait) + 1)
        return response
    config = server.config
    principal = await run_in_threadpool(_auth.login, config, name, password)
    if principal is None:
        return _render(
            request,
            "login.html",
            {"next": form.get("next", ""), "error": "wrong name or password"},
            401,
        )
    server.limiter.succeeded(address, name)
    target = form.get("next", "")
    if not (target.startswith("/") and not target.startswith("//")):
        target = str(request.url_for("index"))
    redirect = RedirectResponse(target, 303)
    _set_cookie(request, redirect, _auth.make_session(config, principal), config.session_hours)
    return redirect


def _secure(request: Request) -> bool:
    configured = _server(request).config.secure_cookies
    return request.url.scheme == "https" if configured is None else configured


def _set_cookie(request: Request, response: Response, value: str, hours: float) -> None:
    response.set_cookie(
        _auth.COOKIE,
        value,
        max_age=int(hours * 3600) if value else 0,
        path=request.scope.get("root_path") or "/",
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )


@_page
async def logout(request: Request) -> Response:
    server = _server(request)
    form = await _form(request)
    principal = server.principal(request)
    server.check_csrf(request, principal, form.get("csrf", ""))
    response = RedirectResponse(str(request.url_for("login")), 303)
    _set_cookie(request, response, "", 0)
    return response


# -- the app ------------------------------------------------------------------------------------


class _TooLarge(Exception):
    """The request's body is larger than the server takes."""


LOGIN_BODY = 64 * 1024


class _BodyLimit:
    """Refuse request bodies over *limit* bytes (the login form: 64 KiB) before reading them
    whole; a body without Content-Length is cut off as it arrives."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = LOGIN_BODY if scope["path"].endswith("/login") else self.limit
        length = dict(scope.get("headers", [])).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            response = JSONResponse({"error": f"the request body is over {limit:,} bytes"}, 413)
            await response(scope, receive, send)
            return
        seen = 0

        async def counting() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge(f"the request body is over {limit:,} bytes")
            return message

        await self.app(scope, counting, send)


class _SecurityHeaders:
    """A strict Content-Security-Policy and friends on every response."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"same-origin"),
                    (b"cache-control", b"no-store"),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, sending)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_HERE / "templates")),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["shown"] = _shown
    env.filters["timestamp"] = lambda epoch: (
        datetime.datetime.fromtimestamp(float(epoch), datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M:%S"
        )
        if epoch
        else ""
    )
    env.globals["urlencode"] = urlencode
    return env


def _shown(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, (bool, int, float, str)):
        return values.to_text(value)
    return json.dumps(value)


from configgen.server import _bulk, _webhooks  # noqa: E402  (they build on the helpers above)


def build(
    schema: FlagsSchema,
    editor: audit.Editor,
    config_source: Callable[[], ServerConfig],
    host_user: HostUser | None = None,
    dispatcher: Any = None,
    max_body: int = 5 * 1024 * 1024,
) -> Starlette:
    """The app over a flags schema, an editor and a (re-read) server config."""
    routes = [
        Route("/", index, name="index"),
        Route("/login", login_page, name="login"),
        Route("/login", login_post, methods=["POST"], name="login_post"),
        Route("/logout", logout, methods=["POST"], name="logout"),
        Route("/audit", audit_page, name="audit"),
        Route("/evaluate", evaluate_page, name="evaluate"),
        Route("/flags/{key:path}/preview", preview, methods=["POST"], name="preview"),
        Route("/flags/{key:path}", flag_page, name="flag"),
        Route("/flags/{key:path}", apply, methods=["POST"], name="apply"),
        Route("/api/v1/flags", api_flags, name="api_flags"),
        Route(
            "/api/v1/flags/{key:path}", api_flag, methods=["GET", "PUT", "DELETE"], name="api_flag"
        ),
        Route("/api/v1/audit", api_audit, name="api_audit"),
        Route(
            "/ofrep/v1/evaluate/flags", _ofrep.evaluate_flags, methods=["POST"], name="ofrep_flags"
        ),
        Route(
            "/ofrep/v1/evaluate/flags/{key:path}",
            _ofrep.evaluate_flag,
            methods=["POST"],
            name="ofrep_flag",
        ),
        Route("/import", _bulk.import_page, name="import_page"),
        Route("/import", _bulk.import_post, methods=["POST"], name="import_post"),
        Route("/api/v1/export", _bulk.api_export, name="api_export"),
        Route("/api/v1/import", _bulk.api_import, methods=["POST"], name="api_import"),
        Route("/webhooks", _webhooks.page, name="webhooks"),
        Route("/webhooks", _webhooks.page_action, methods=["POST"], name="webhooks_action"),
        Route("/api/v1/webhooks/deliveries", _webhooks.api_deliveries, name="api_deliveries"),
        Route("/api/v1/webhooks/test", _webhooks.api_test, methods=["POST"], name="api_test"),
        Route(
            "/api/v1/webhooks/deliveries/{id}/redeliver",
            _webhooks.api_redeliver,
            methods=["POST"],
            name="api_redeliver",
        ),
        Mount("/static", StaticFiles(directory=str(_HERE / "static")), name="static"),
    ]
    app = Starlette(routes=routes)
    app.state.configgen = _Server(
        schema=schema,
        editor=editor,
        config_source=config_source,
        host_user=host_user,
        limiter=_auth.LoginLimiter(),
        templates=_environment(),
        ephemeral_secret=secrets.token_urlsafe(32),
    )
    app.state.webhooks = dispatcher
    app.add_middleware(_BodyLimit, limit=max_body)
    app.add_middleware(_SecurityHeaders)
    return app
