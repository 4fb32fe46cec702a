"""An OpenFeature provider: services without the generated code evaluate the same flags.

``ConfigGenProvider("flags.toml", store=store)`` reads flags.toml and evaluates each flag
as the generated getters do (`configgen.evaluation.explain`), with the values *store* holds
(an `EtcdStore`, a `RedisStore`, a generated ``MemoryStore`` or ``FileStore``: anything with
``get(key)`` and ``watch(callback)``). Needs the OpenFeature SDK:
``pip install 'python-configgen[openfeature]'``. See docs/openfeature.md.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

try:
    from openfeature.event import ProviderEventDetails
    from openfeature.exception import ErrorCode, ProviderNotReadyError
    from openfeature.flag_evaluation import FlagResolutionDetails, Reason
    from openfeature.provider import AbstractProvider, Metadata
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "configgen.openfeature needs the OpenFeature SDK: "
        "pip install 'python-configgen[openfeature]'"
    ) from exc

from configgen import values
from configgen.evaluation import Explanation, explain
from configgen.model import Flag, FlagsSchema

if TYPE_CHECKING:
    from openfeature.evaluation_context import EvaluationContext
    from openfeature.flag_evaluation import FlagValueType

    from configgen.bucketing import Scheme

__all__ = ["ConfigGenProvider", "FlagStore"]

T = TypeVar("T", bool, str, int, float)
T_any = TypeVar("T_any")

# configgen's sources of a value, as OpenFeature reasons (as OFREP answers them)
REASONS = {
    "expired": Reason.DISABLED,
    "stored": Reason.STATIC,
    "user": Reason.TARGETING_MATCH,
    "segment": Reason.TARGETING_MATCH,
    "rollout": Reason.SPLIT,
    "default": Reason.DEFAULT,
}

# which flag kinds each resolution serves (a percent flag is a bool for the context)
KINDS: Mapping[type, tuple[str, ...]] = {
    bool: ("bool", "percent"),
    str: ("string", "enum"),
    int: ("int",),
    float: ("float",),
}


class FlagStore(Protocol):
    """Where flag values live, by dotted key: the generated modules' ``FlagStore``."""

    def get(self, key: str) -> object | None: ...

    def watch(self, callback: Callable[[], object]) -> None: ...


logger = logging.getLogger(__name__)


class ConfigGenProvider(AbstractProvider):
    """The flags of one flags.toml, evaluated in process with the values of *store*.

    *flags* is the path of flags.toml (or a `FlagsSchema`); *store* holds the values
    operators set (None: every flag gives what flags.toml says). *bucketing* is the rollout
    bucketing scheme, as ``[tool.configgen] bucketing`` chooses it for the generated module
    (default: the schema's, ``flagd-v3`` for a path). ``initialize`` waits up to
    *timeout* seconds for a store with ``wait_synced`` to read everything; the OpenFeature
    SDK announces ``PROVIDER_READY`` when it has. A store with ``errors`` and ``resyncs``
    counters (`EtcdStore`, `RedisStore`) is checked every *poll_interval* seconds: when it
    has failed and not read everything again for *poll_interval* seconds the provider
    emits ``PROVIDER_STALE`` (the last values are still served), and ``PROVIDER_READY``
    once it has. Every change of a flag's stored value emits
    ``PROVIDER_CONFIGURATION_CHANGED`` naming the flags. The store is not closed by
    ``shutdown``: whoever opened it closes it.
    """

    def __init__(
        self,
        flags: str | Path | FlagsSchema,
        store: FlagStore | None = None,
        *,
        timeout: float = 10.0,
        poll_interval: float = 0.5,
        bucketing: Scheme | None = None,
    ) -> None:
        super().__init__()
        self.schema = _schema(flags)
        if bucketing is not None:
            self.schema = dataclasses.replace(self.schema, bucketing=bucketing)
        self.store = store
        self.flags = {flag.key: flag for flag in self.schema.flags()}
        self.segments = {segment.name: segment for segment in self.schema.segments}
        self.timeout, self.poll_interval = timeout, poll_interval
        self._lock = threading.Lock()
        self._seen: dict[str, object] = {}
        self._watching = False
        self._state = "stopped"  # "starting", "ready", "away" or "stopped"
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None

    # -- the provider's life -----------------------------------------------------------------

    def get_metadata(self) -> Metadata:
        """The provider's name in OpenFeature: ``ConfigGen``."""
        return Metadata(name="ConfigGen")

    def initialize(self, evaluation_context: EvaluationContext) -> None:
        """Follow the store and wait (up to ``timeout``) until it has read everything.

        Raises `ProviderNotReadyError` when it has not: the SDK then announces
        ``PROVIDER_ERROR``, and this provider ``PROVIDER_READY`` once the store syncs.
        """
        store = self.store
        with self._lock:
            self._state = "starting"
        if store is None:
            with self._lock:
                self._state = "ready"
            return
        if not self._watching:
            store.watch(self._changed)
            self._watching = True
        self._stop.clear()
        counters = _counters(store)
        if counters is not None:
            self._poller = threading.Thread(
                target=self._poll, args=(store, counters), name="ConfigGenProvider", daemon=True
            )
            self._poller.start()
        wait_synced = getattr(store, "wait_synced", None)
        synced = wait_synced(self.timeout) if callable(wait_synced) else True
        with self._lock:
            self._seen = self._stored()
            self._state = "ready" if synced else "away"
        if not synced:
            raise ProviderNotReadyError(
                f"{store!r} has not read its values in {self.timeout:g} seconds; "
                "serving the defaults until it has"
            )

    def shutdown(self) -> None:
        """Stop following the store (the store itself stays open)."""
        with self._lock:
            self._state = "stopped"
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout=10)
            self._poller = None

    # -- resolution --------------------------------------------------------------------------

    def resolve_boolean_details(
        self,
        flag_key: str,
        default_value: bool,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[bool]:
        """A bool or percent flag for the context."""
        return self._resolve(bool, flag_key, default_value, evaluation_context)

    def resolve_string_details(
        self,
        flag_key: str,
        default_value: str,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[str]:
        """A string or enum flag for the context."""
        return self._resolve(str, flag_key, default_value, evaluation_context)

    def resolve_integer_details(
        self,
        flag_key: str,
        default_value: int,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[int]:
        """An int flag for the context (a bool flag is a ``TYPE_MISMATCH``)."""
        return self._resolve(int, flag_key, default_value, evaluation_context)

    def resolve_float_details(
        self,
        flag_key: str,
        default_value: float,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[float]:
        """A float flag for the context (an int flag is a ``TYPE_MISMATCH``, as in flagd)."""
        return self._resolve(float, flag_key, default_value, evaluation_context)

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: Sequence[FlagValueType] | Mapping[str, FlagValueType],
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[Sequence[FlagValueType] | Mapping[str, FlagValueType]]:
        """No flag is an object: ``TYPE_MISMATCH`` (or ``FLAG_NOT_FOUND``)."""
        flag = self.flags.get(flag_key)
        if flag is None:
            return self._not_found(flag_key, default_value)
        return _failed(
            default_value, ErrorCode.TYPE_MISMATCH, f"{flag_key} is {_a(flag.kind)} flag"
        )

    def _resolve(
        self,
        kind: type[T],
        flag_key: str,
        default_value: T,
        evaluation_context: EvaluationContext | None,
    ) -> FlagResolutionDetails[T]:
        flag = self.flags.get(flag_key)
        if flag is None:
            return self._not_found(flag_key, default_value)
        if flag.kind not in KINDS[kind]:
            asked = {bool: "boolean", str: "string", int: "integer", float: "float"}[kind]
            return _failed(
                default_value,
                ErrorCode.TYPE_MISMATCH,
                f"{flag_key} is {_a(flag.kind)} flag, not resolved as {_a(asked)}",
            )
        key, attributes = _context(evaluation_context)
        metadata: dict[str, str] = {"type": flag.kind}
        try:
            raw = self.store.get(flag.key) if self.store is not None else None
        except Exception:  # as the getters do: the flag as if nothing were stored
            logger.debug("flag %s: the store failed", flag.key, exc_info=True)
            raw, metadata["fallback"] = None, "store-error"
        try:
            found = explain(flag, self.segments, raw, key, attributes, scheme=self.schema.bucketing)
        except Exception:  # a targeting key that is not a string: the flag's default
            logger.debug("flag %s: evaluation failed", flag.key, exc_info=True)
            metadata["fallback"] = "evaluation-error"
            default: T = False if flag.kind == "percent" else flag.default  # type: ignore[assignment]
            return FlagResolutionDetails(default, reason=Reason.ERROR, flag_metadata=metadata)
        value: T = found.value  # type: ignore[assignment]  # the kinds above ensure it
        metadata["explanation"] = found.reason
        problem = _unparsable(flag, raw) if found.source != "expired" else None
        if problem is not None:
            return FlagResolutionDetails(
                value,
                error_code=ErrorCode.PARSE_ERROR,
                error_message=problem,
                reason=Reason.ERROR,
                flag_metadata=metadata,
            )
        return FlagResolutionDetails(
            value,
            variant=_variant(found.value),
            reason=_reason(flag, found, key is not None),
            flag_metadata=metadata,
        )

    def _not_found(self, flag_key: str, default_value: T_any) -> FlagResolutionDetails[T_any]:
        return _failed(
            default_value, ErrorCode.FLAG_NOT_FOUND, f"no flag {flag_key!r} in {self.schema.source}"
        )

    # -- events ------------------------------------------------------------------------------

    def _stored(self) -> dict[str, object]:
        store = self.store
        if store is None:
            return {}
        return {key: raw for key in self.flags if (raw := store.get(key)) is not None}

    def _changed(self) -> None:
        """The store's watcher: name the flags whose stored values changed."""
        with self._lock:
            if self._state == "stopped":
                return
            now = self._stored()
            changed = sorted(
                key for key in now.keys() | self._seen.keys() if now.get(key) != self._seen.get(key)
            )
            self._seen = now
            tell = self._state != "starting" and bool(changed)
        if tell:
            self.emit_provider_configuration_changed(ProviderEventDetails(flags_changed=changed))

    def _poll(self, store: object, counters: Callable[[], tuple[int, int]]) -> None:
        """Watch the store's error and resync counters; announce STALE and READY."""
        errors, resyncs = counters()
        failing_since: float | None = None
        while not self._stop.wait(self.poll_interval):
            with self._lock:
                starting = self._state == "starting"
            if starting:  # compare with the counters before initialize when it is done
                continue
            now_errors, now_resyncs = counters()
            if now_resyncs > resyncs:
                failing_since = None
                self._set_state("ready", store)
            elif now_errors > errors and failing_since is None:
                failing_since = time.monotonic()
            if failing_since is not None and time.monotonic() - failing_since >= self.poll_interval:
                self._set_state("away", store)
            errors, resyncs = now_errors, now_resyncs

    def _set_state(self, state: str, store: object) -> None:
        with self._lock:
            if self._state in ("starting", "stopped", state):
                return
            self._state = state
        if state == "ready":
            self.emit_provider_ready(ProviderEventDetails(message=f"{store!r} has read everything"))
        else:
            self.emit_provider_stale(
                ProviderEventDetails(
                    message=f"{store!r} cannot reach its server; serving the last known values"
                )
            )


def _schema(flags: str | Path | FlagsSchema) -> FlagsSchema:
    if isinstance(flags, FlagsSchema):
        return flags
    from configgen.diagnostics import DiagnosticError, errors
    from configgen.flags_reader import read_flags

    path = Path(flags)
    schema, diagnostics = read_flags(path, path.as_posix())
    if schema is None or errors(diagnostics):
        raise DiagnosticError(errors(diagnostics) or diagnostics)
    return schema


def _counters(store: object) -> Callable[[], tuple[int, int]] | None:
    """How to read a store's (errors, resyncs), if it counts both."""
    if not all(isinstance(getattr(store, name, None), int) for name in ("errors", "resyncs")):
        return None
    return lambda: (int(getattr(store, "errors")), int(getattr(store, "resyncs")))  # noqa: B009


def _context(context: EvaluationContext | None) -> tuple[str | None, dict[str, object]]:
    if context is None:
        return None, {}
    return context.targeting_key or None, dict(context.attributes)


def _unparsable(flag: Flag, raw: object) -> str | None:
    """Why a stored value is ignored, or None when there is none or it is valid."""
    if raw is None:
        return None
    try:
        values.from_stored(flag, raw)
    except ValueError as exc:
        return f"the stored value is ignored: {exc}"
    return None


def _reason(flag: Flag, found: Explanation, has_key: bool) -> Reason:
    if flag.kind == "percent" and found.source in ("stored", "rollout"):
        return Reason.SPLIT if has_key else Reason.DEFAULT
    return REASONS[found.source]


def _variant(value: values.Value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _failed(default: T_any, code: ErrorCode, message: str) -> FlagResolutionDetails[T_any]:
    return FlagResolutionDetails(
        default, error_code=code, error_message=message, reason=Reason.ERROR
    )


def _a(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"
