"""The server config file (``server.toml``): where the values are, who may do what.

```toml
store = "file://flags-overrides.toml"   # or etcd://HOST:PORT/SERVICE, redis://HOST:PORT/DB
service = "shop"                        # the service name in Redis (default: the project's)
host = "127.0.0.1"
port = 8400
anonymous-viewers = false               # true: reading needs no login (changes always do)
session-hours = 12
session-secret = "..."                  # signs session cookies; written by `configgen auth`

[[users]]
name = "alice"
role = "editor"                          # viewer | editor | admin
password = "scrypt$16384$8$1$<salt>$<hash>"

[[tokens]]
name = "deploy-bot"
role = "editor"
hash = "sha256$<hex>"

[proxy]                                  # behind an authenticating proxy
header = "X-Forwarded-User"
role-header = "X-Forwarded-Role"         # optional; else default-role
default-role = "viewer"
trusted = ["127.0.0.1/32"]               # only requests from these addresses are believed
```

Passwords are kept as scrypt hashes and tokens as SHA-256 hashes: neither is ever
stored in the clear. The file is written atomically and readable by its owner only.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import secrets
import sys
import tempfile
from pathlib import Path
from typing import Any, Literal

Role = Literal["viewer", "editor", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "editor", "admin")
_RANK = {role: index for index, role in enumerate(ROLES)}
KEYS = frozenset(
    {
        "store",
        "service",
        "host",
        "port",
        "anonymous-viewers",
        "session-hours",
        "session-secret",
        "secure-cookies",
        "audit-retention",
        "public-origin",
        "forwarded-allow-ips",
        "users",
        "tokens",
        "proxy",
        "webhooks",
    }
)
PROXY_KEYS = frozenset({"header", "role-header", "default-role", "trusted"})


def allows(role: Role, needed: Role) -> bool:
    """Whether *role* may do what *needed* may: admin > editor > viewer."""
    return _RANK[role] >= _RANK[needed]


class ServerConfigError(ValueError):
    """The server config file is not valid; the message names the file and the key."""


@dataclasses.dataclass(frozen=True)
class User:
    name: str
    role: Role
    password: str  # the scrypt hash
    """Never the password itself."""

    def __repr__(self) -> str:
        return f"User(name={self.name!r}, role={self.role!r})"


@dataclasses.dataclass(frozen=True)
class Token:
    name: str
    role: Role
    hash: str

    def __repr__(self) -> str:
        return f"Token(name={self.name!r}, role={self.role!r})"


@dataclasses.dataclass(frozen=True)
class Proxy:
    header: str
    role_header: str | None
    default_role: Role
    trusted: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]

    def believes(self, address: str | None) -> bool:
        if address is None:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted)


@dataclasses.dataclass(frozen=True)
class ServerConfig:
    """What `configgen serve` and `create_app` need besides flags.toml."""

    store: str = "file://flags-overrides.toml"
    service: str | None = None
    host: str = "127.0.0.1"
    port: int = 8400
    anonymous_viewers: bool = False
    session_hours: float = 12.0
    session_secret: str = dataclasses.field(default="", repr=False)
    secure_cookies: bool | None = None
    """Mark the session cookie Secure: None decides by the request's scheme (set true behind
    a proxy that terminates TLS)."""
    audit_retention: int | None = None
    """Audit entries kept in the store (None: `configgen.audit.DEFAULT_RETENTION`)."""
    public_origin: str | None = None
    """``https://flags.example.com``: the origin browsers see, behind a proxy that changes
    the scheme or the host (checked against a request's Origin header)."""
    forwarded_allow_ips: tuple[str, ...] = ()
    """Proxies whose X-Forwarded-For/-Proto `configgen serve` believes (client address and
    scheme, for the login limits and Secure cookies)."""
    users: tuple[User, ...] = ()
    tokens: tuple[Token, ...] = ()
    proxy: Proxy | None = None
    webhooks: tuple[dict[str, Any], ...] = dataclasses.field(default=(), repr=False)
    path: Path | None = None

    def user(self, name: str) -> User | None:
        return next((user for user in self.users if user.name == name), None)


def _parse(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ServerConfigError(f"{path}: cannot read it: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ServerConfigError(f"{path}: invalid TOML: {exc}") from None


def _role(path: Path, where: str, value: object) -> Role:
    if value not in ROLES:
        raise ServerConfigError(
            f"{path}: {where}: role must be one of {', '.join(ROLES)}, not {value!r}"
        )
    return value


def _text(path: Path, where: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ServerConfigError(f"{path}: {where}: expected a non-empty string, not {value!r}")
    return value


def load(path: Path) -> ServerConfig:
    """Read a server config file; a missing file is the defaults. Raise `ServerConfigError`."""
    data = _parse(path)
    unknown = sorted(set(data) - KEYS)
    if unknown:
        from configgen.diagnostics import did_you_mean

        raise ServerConfigError(
            f"{path}: unknown setting {unknown[0]!r}{did_you_mean(unknown[0], sorted(KEYS))}"
        )
    users = tuple(
        User(
            _text(path, f"users[{i}].name", entry.get("name")),
            _role(path, f"users[{i}]", entry.get("role")),
            _text(path, f"users[{i}].password", entry.get("password")),
        )
        for i, entry in enumerate(_tables(path, data, "users"))
    )
    tokens = tuple(
        Token(
            _text(path, f"tokens[{i}].name", entry.get("name")),
            _role(path, f"tokens[{i}]", entry.get("role")),
            _text(path, f"tokens[{i}].hash", entry.get("hash")),
        )
        for i, entry in enumerate(_tables(path, data, "tokens"))
    )
    port = data.get("port", 8400)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ServerConfigError(f"{path}: port: expected a port number, not {port!r}")
    hours = data.get("session-hours", 12)
    if isinstance(hours, bool) or not isinstance(hours, (int, float)) or hours <= 0:
        raise ServerConfigError(f"{path}: session-hours: expected a positive number")
    anonymous = data.get("anonymous-viewers", False)
    if not isinstance(anonymous, bool):
        raise ServerConfigError(f"{path}: anonymous-viewers: expected true or false")
    secure = data.get("secure-cookies")
    if secure is not None and not isinstance(secure, bool):
        raise ServerConfigError(f"{path}: secure-cookies: expected true or false")
    origin = data.get("public-origin")
    if origin is not None and not (
        isinstance(origin, str)
        and origin.startswith(("http://", "https://"))
        and origin.count("/") == 2
    ):
        raise ServerConfigError(
            f'{path}: public-origin: scheme and host only, such as "https://flags.example.com"'
        )
    allowed = data.get("forwarded-allow-ips", [])
    if not isinstance(allowed, list) or not all(isinstance(ip, str) for ip in allowed):
        raise ServerConfigError(f"{path}: forwarded-allow-ips: a list of proxy addresses")
    retention = data.get("audit-retention")
    if retention is not None and (
        isinstance(retention, bool) or not isinstance(retention, int) or retention < 1
    ):
        raise ServerConfigError(f"{path}: audit-retention: expected a whole number >= 1")
    return ServerConfig(
        store=_text(path, "store", data.get("store", ServerConfig.store)),
        service=_text(path, "service", data["service"]) if "service" in data else None,
        host=_text(path, "host", data.get("host", ServerConfig.host)),
        port=port,
        anonymous_viewers=anonymous,
        session_hours=float(hours),
        session_secret=str(data.get("session-secret", "")),
        secure_cookies=secure,
        audit_retention=retention,
        public_origin=origin.rstrip("/") if isinstance(origin, str) else None,
        forwarded_allow_ips=tuple(allowed),
        users=users,
        tokens=tokens,
        proxy=_proxy(path, data.get("proxy")),
        webhooks=tuple(_tables(path, data, "webhooks")),
        path=path,
    )


def _tables(path: Path, data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    found = data.get(key, [])
    if not isinstance(found, list) or not all(isinstance(entry, dict) for entry in found):
        raise ServerConfigError(f"{path}: {key}: expected [[{key}]] tables")
    return found


def _proxy(path: Path, table: object) -> Proxy | None:
    if table is None:
        return None
    if not isinstance(table, dict):
        raise ServerConfigError(f"{path}: proxy: expected a [proxy] table")
    unknown = sorted(set(table) - PROXY_KEYS)
    if unknown:
        raise ServerConfigError(f"{path}: proxy: unknown setting {unknown[0]!r}")
    trusted = table.get("trusted")
    if not isinstance(trusted, list) or not trusted:
        raise ServerConfigError(
            f'{path}: proxy.trusted: list the proxy\'s addresses (e.g. ["127.0.0.1/32"]): '
            "a user header is believed only from them"
        )
    try:
        networks = tuple(ipaddress.ip_network(str(entry), strict=False) for entry in trusted)
    except ValueError as exc:
        raise ServerConfigError(f"{path}: proxy.trusted: {exc}") from None
    role_header = table.get("role-header")
    return Proxy(
        header=_text(path, "proxy.header", table.get("header")),
        role_header=_text(path, "proxy.role-header", role_header) if role_header else None,
        default_role=_role(path, "proxy.default-role", table.get("default-role", "viewer")),
        trusted=networks,
    )


# -- writing (configgen auth) ----------------------------------------------------------------


def _write(path: Path, document: Any) -> None:
    import tomlkit

    text = tomlkit.dumps(document)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _document(path: Path) -> Any:
    import tomlkit

    load(path)  # refuse to edit a file that is not valid
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    document = tomlkit.parse(text)
    if "session-secret" not in document:
        document["session-secret"] = secrets.token_urlsafe(32)
    return document


def put_entry(path: Path, table: str, entry: dict[str, str]) -> bool:
    """Add or replace the ``[[table]]`` entry named ``entry["name"]``; True if it replaced one."""
    import tomlkit

    document = _document(path)
    entries = document.get(table)
    if entries is None or len(entries) == 0:  # an emptied array would be written inline
        if entries is not None:
            del document[table]
        entries = tomlkit.aot()
        document[table] = entries
    replaced = False
    for existing in entries:
        if existing.get("name") == entry["name"]:
            existing.clear()
            existing.update(entry)
            replaced = True
            break
    else:
        new = tomlkit.table()
        new.update(entry)
        entries.append(new)
    _write(path, document)
    return replaced


def remove_entry(path: Path, table: str, name: str) -> bool:
    """Remove the ``[[table]]`` entry named *name*; False if there was none."""
    document = _document(path)
    entries = document.get(table)
    if entries is None:
        return False
    for index, existing in enumerate(entries):
        if existing.get("name") == name:
            del entries[index]
            if len(entries) == 0:
                del document[table]
            _write(path, document)
            return True
    return False
