"""Who is asking: password hashes, API tokens, signed session cookies, CSRF, login limits."""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import deque

from configgen.server._config import Role, ServerConfig

# scrypt parameters: 16 MiB and about 50 ms per check on a small server
_N, _R, _P = 2**14, 8, 1
TOKEN_PREFIX = "cgt_"


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$salt$hash`` (base64): what the config file keeps, never the password."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return "$".join(["scrypt", str(_N), str(_R), str(_P), _b64(salt), _b64(digest)])


def check_password(password: str, stored: str) -> bool:
    """Whether *password* is the one *stored* was made from (in constant time)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        found = hashlib.scrypt(
            password.encode("utf-8"),
            salt=_unb64(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(_unb64(digest)),
            maxmem=2**27,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(found, _unb64(digest))


@functools.cache
def _dummy() -> str:
    """Checked for unknown users, so that a login takes as long whether the user exists or not."""
    return hash_password(secrets.token_urlsafe(16))


def new_token() -> tuple[str, str]:
    """A new API token and the hash the config file keeps of it."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    # a token has 256 random bits: a fast hash is as safe as a slow one
    return "sha256$" + hashlib.sha256(token.encode("utf-8")).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclasses.dataclass(frozen=True)
class Principal:
    """Someone the server knows: a user (session or proxy), an API token, a host app's user."""

    name: str
    role: Role
    kind: str  # "user", "token", "proxy", "host"
    csrf: str = ""
    """The session's CSRF token (sessions only)."""


def login(config: ServerConfig, name: str, password: str) -> Principal | None:
    user = config.user(name)
    if user is None:
        check_password(password, _dummy())
        return None
    if not check_password(password, user.password):
        return None
    return Principal(user.name, user.role, "user", secrets.token_urlsafe(24))


def token_principal(config: ServerConfig, token: str) -> Principal | None:
    digest = hash_token(token)
    for entry in config.tokens:
        if hmac.compare_digest(entry.hash, digest):
            return Principal(entry.name, entry.role, "token")
    return None


# -- sessions: a signed cookie ---------------------------------------------------------------

COOKIE = "configgen_session"


def _key(config: ServerConfig) -> bytes:
    if not config.session_secret:
        raise RuntimeError("no session secret")
    return hashlib.sha256(b"configgen-session\0" + config.session_secret.encode()).digest()


def _fingerprint(password_hash: str) -> str:
    """Ties a session to the password it was opened with: a new password, or a user removed
    and added again, ends the sessions opened before."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def make_session(config: ServerConfig, principal: Principal) -> str:
    user = config.user(principal.name)
    body = _b64(
        json.dumps(
            {
                "u": principal.name,
                "c": principal.csrf,
                "t": int(time.time()),
                "f": _fingerprint(user.password) if user else "",
            },
            separators=(",", ":"),
        ).encode()
    )
    signature = _b64(hmac.new(_key(config), body.encode(), hashlib.sha256).digest())
    return f"{body}.{signature}"


def read_session(config: ServerConfig, cookie: str | None) -> Principal | None:
    """The logged-in user of a session cookie; None if absent, forged, expired or removed.

    The role is read from the config now, so a changed or removed user takes effect at once.
    """
    if not cookie or "." not in cookie or not config.session_secret:
        return None
    body, signature = cookie.rsplit(".", 1)
    expected = _b64(hmac.new(_key(config), body.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(signature, expected):
        return None
    try:
        data = json.loads(_unb64(body))
        name, csrf, issued = str(data["u"]), str(data["c"]), float(data["t"])
        fingerprint = str(data["f"])
    except (ValueError, KeyError, TypeError):
        return None
    if time.time() - issued > config.session_hours * 3600:
        return None
    user = config.user(name)
    if user is None or not hmac.compare_digest(fingerprint, _fingerprint(user.password)):
        return None
    return Principal(user.name, user.role, "user", csrf)


# -- login attempts --------------------------------------------------------------------------


class LoginLimiter:
    """Failed logins allowed per minute: *attempts* for one user name from one address, and
    *per_address* for all names from one address (so one client cannot lock others out).

    An attempt is counted when it starts, before the (slow) password check, so that guesses
    sent at once are counted too; a successful login takes its attempt back.
    """

    def __init__(self, attempts: int = 5, window: float = 60.0, per_address: int = 30) -> None:
        self.attempts = attempts
        self.window = window
        self.per_address = per_address
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, subject: str, now: float) -> deque[float]:
        found = self._seen.setdefault(subject, deque())
        while found and now - found[0] > self.window:
            found.popleft()
        return found

    def attempt(self, address: str, name: str) -> float:
        """Count an attempt now; return 0, or the seconds to wait when it is refused."""
        now = time.monotonic()
        subjects = ((f"p:{address}\0{name}", self.attempts), (f"a:{address}", self.per_address))
        with self._lock:
            waits = [
                self.window - (now - found[0])
                for subject, most in subjects
                for found in (self._recent(subject, now),)
                if len(found) >= most
            ]
            if waits:
                return max(waits)
            for subject, _ in subjects:
                self._seen[subject].append(now)
            if len(self._seen) > 10_000:  # bounded: drop the idle subjects
                for idle in [s for s, found in self._seen.items() if not found]:
                    del self._seen[idle]
        return 0.0

    def succeeded(self, address: str, name: str) -> None:
        """A login that worked: its attempt does not count against anyone."""
        with self._lock:
            self._seen.pop(f"p:{address}\0{name}", None)
            found = self._seen.get(f"a:{address}")
            if found:
                found.pop()
