"""OpenTelemetry evaluation metrics for a generated ``Flags`` and for `ConfigGenProvider`.

``instrument(flags)`` makes every evaluation count, per flag key, on the global
OpenTelemetry ``MeterProvider`` (or the one given), under the metric names OpenFeature's
MetricsHook uses: ``feature_flag.evaluation_requests_total``,
``feature_flag.evaluation_success_total`` and ``feature_flag.evaluation_error_total``.

A getter does not call OpenTelemetry: it adds one to an in-process counter, and observable
counters read the counters when the metrics are exported. The generated module is not
changed (it stays stdlib-only and costs nothing while not instrumented); ``instrument()``
switches the given instance, and the category instances under it, to subclasses whose
getters count. Needs ``pip install 'python-configgen[otel]'``. See docs/metrics.md.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

try:
    from opentelemetry import metrics
    from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "configgen.otel needs the OpenTelemetry API: pip install 'python-configgen[otel]'"
    ) from exc

__all__ = ["instrument"]

KEY = "feature_flag.key"
VARIANT = "feature_flag.result.variant"
REASON = "feature_flag.result.reason"
PROVIDER = "feature_flag.provider.name"
ERROR_TYPE = "error.type"

REQUESTS = "feature_flag.evaluation_requests_total"
SUCCESS = "feature_flag.evaluation_success_total"
ERRORS = "feature_flag.evaluation_error_total"

# The causes of a generated flag serving its default, as `Flags.fallbacks()` names them.
_CAUSES = ("store-error", "wrong-type", "evaluation-error")

Attributes = tuple[tuple[str, str], ...]
# What a source reports when read: (metric name, attributes, cumulative count)
Reading = tuple[str, Attributes, int]


class _Registry:
    """The three observable counters of one meter provider and the sources they read."""

    def __init__(self, provider: MeterProvider) -> None:
        self.sources: list[Callable[[], Iterable[Reading]]] = []
        self.lock = threading.Lock()
        meter = provider.get_meter("configgen")
        for name, unit, description in (
            (REQUESTS, "{request}", "The number of flag evaluation requests."),
            (SUCCESS, "{evaluation}", "The number of flag evaluations that succeeded."),
            (ERRORS, "{evaluation}", "The number of flag evaluations that served a fallback."),
        ):
            meter.create_observable_counter(
                name, callbacks=[self._callback(name)], unit=unit, description=description
            )

    def _callback(self, name: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def observe(options: CallbackOptions) -> Iterable[Observation]:
            totals: dict[Attributes, int] = {}
            with self.lock:
                sources = list(self.sources)
            for source in sources:
                for metric, attributes, count in source():
                    if metric == name and count:
                        totals[attributes] = totals.get(attributes, 0) + count
            return [Observation(count, dict(attributes)) for attributes, count in totals.items()]

        return observe


_registries: dict[int, tuple[MeterProvider, _Registry]] = {}
_registries_lock = threading.Lock()


def _registry(provider: MeterProvider | None) -> _Registry:
    chosen = metrics.get_meter_provider() if provider is None else provider
    with _registries_lock:
        found = _registries.get(id(chosen))
        if found is None:
            found = _registries[id(chosen)] = (chosen, _Registry(chosen))
        return found[1]


def instrument(target: Any, meter_provider: MeterProvider | None = None) -> None:
    """Count the evaluations of *target* (a generated ``Flags`` or a `ConfigGenProvider`).

    The counts are exported through *meter_provider*, by default the global one (as it is
    when ``instrument()`` is first called for it). Instrumenting the same object again does
    nothing. A ``Flags`` is refreshed once, to learn its flags' keys.
    """
    if getattr(type(target), "_configgen_counting", False):
        return
    registry = _registry(meter_provider)
    if hasattr(target, "resolve_boolean_details"):
        source = _instrument_provider(target)
    else:
        source = _instrument_flags(target)
    with registry.lock:
        registry.sources.append(source)


# ---- a generated Flags ----------------------------------------------------------------------


def _plain_getter(self: Any, ctx: object = None) -> object:
    return self._x_value


def _is_plain(function: object, attribute: str) -> bool:
    """Is *function* exactly ``return self.<attribute>``, as the generated plain getters are?"""
    code = getattr(function, "__code__", None)
    reference = _plain_getter.__code__
    return (
        code is not None
        and code.co_code == reference.co_code
        and code.co_names == (attribute,)
        and code.co_varnames == reference.co_varnames
    )


def _is_targeted(function: object, attribute: str) -> bool:
    """Does *function* start ``stored = self.<attribute>``, as the generated targeted getters do?

    Such a getter returns the stored value when there is one and evaluates its targeting
    rules otherwise (a getter with an expiry date reads the clock first).
    """
    code = getattr(function, "__code__", None)
    return (
        code is not None
        and code.co_names[:1] == (attribute,)
        and code.co_varnames[:3] == ("self", "ctx", "stored")
    )


def _getters(cls: type) -> list[str]:
    slots = getattr(cls, "__slots__", ())
    return sorted(
        name
        for name in dir(cls)
        if not name.startswith("_") and f"_{name}_value" in slots and callable(getattr(cls, name))
    )


def _categories(obj: object) -> list[tuple[str, object]]:
    slots = getattr(type(obj), "__slots__", ())
    return [
        (name, getattr(obj, name))
        for name in sorted(slots)
        if not name.startswith("_") and hasattr(getattr(obj, name, None), "_root")
    ]


def _instrument_flags(flags: Any) -> Callable[[], Iterable[Reading]]:
    # Every getter-holding object under flags, with the dotted path of its getters.
    holders: list[tuple[str, object]] = []

    def walk(prefix: str, obj: object) -> None:
        holders.append((prefix, obj))
        for name, child in _categories(obj):
            walk(f"{prefix}{name}.", child)

    walk("", flags)
    paths = [(prefix + name, obj, name) for prefix, obj in holders for name in _getters(type(obj))]
    keys = [path for path, _, _ in paths]
    index_of: dict[str, int] = {}  # flag key -> index in paths
    cells: list[Any] = []  # each getter's count of evaluations, a closure cell
    # Each flag's cause of serving a fallback now (from the last refresh), the count when
    # that began, and the evaluations counted as errors before.
    causes: list[str | None] = [None] * len(paths)
    marks = [0] * len(paths)
    errors = [dict.fromkeys(_CAUSES, 0) for _ in paths]
    lock = threading.Lock()
    refresh_lock = threading.Lock()
    refreshing: list[dict[str, str]] = []  # the fallbacks of the refresh under way
    seen: list[str] = []
    learning = [True]
    root_class = type(flags)

    def refresh(self: Any) -> None:
        with refresh_lock:  # one refresh at a time, so that its fallbacks are its own
            found: dict[str, str] = {}
            refreshing.append(found)
            try:
                root_class.refresh(self)
            finally:
                refreshing.clear()
            with lock:
                for key, index in index_of.items():
                    cause = found.get(key)
                    if cause != causes[index]:
                        now = cells[index].cell_contents
                        old = causes[index]
                        if old is not None:
                            errors[index][old] += now - marks[index]
                        causes[index], marks[index] = cause, now

    def read(self: Any, key: str, reader: Callable[[object], object], default: object) -> Any:
        if learning:
            seen.append(key)
        return root_class._read(self, key, reader, default)

    def fall_back(
        self: Any, key: str, cause: str, describe: Callable[..., str], *about: object
    ) -> None:
        if cause == "evaluation-error" and key in index_of:
            with lock:
                errors[index_of[key]][cause] += 1
        elif refreshing and cause in _CAUSES:
            refreshing[0][key] = cause
        root_class._fall_back(self, key, cause, describe, *about)

    classes: dict[type, type] = {}
    for _, obj, name in paths:
        cls = type(obj)
        if cls not in classes:
            members: dict[str, Any] = {"__slots__": (), "_configgen_counting": True}
            if obj is flags:
                members.update(refresh=refresh, _read=read, _fall_back=fall_back)
            classes[cls] = type(cls.__name__, (cls,), members)
        getter = _counting_getter(getattr(cls, name), name)
        getter.__qualname__ = f"{cls.__qualname__}.{name}"
        cells.append(getter.__closure__[getter.__code__.co_freevars.index("count")])
        setattr(classes[cls], name, getter)
    for _, obj in holders:
        if type(obj) in classes:
            obj.__class__ = classes[type(obj)]

    # Learn each flag's key (a key's '-' is '_' in the getter's name): from the generated
    # module's DEFAULT_FLAG_VALUES, or else from a first refresh. Then its state now.
    defaults = getattr(sys.modules.get(root_class.__module__), "DEFAULT_FLAG_VALUES", None)
    if isinstance(defaults, Mapping):
        seen.extend(defaults)
    else:
        flags.refresh()
    learning.clear()
    by_path = {key.replace("-", "_"): key for key in seen}
    keys[:] = [by_path.get(path, path) for path in keys]
    index_of.update({key: index for index, key in enumerate(keys)})
    flags.refresh()

    def report() -> Iterable[Reading]:
        with lock:
            now = [cell.cell_contents for cell in cells]
            failed = [dict(counted) for counted in errors]
            for index, cause in enumerate(causes):
                if cause is not None:
                    failed[index][cause] += now[index] - marks[index]
        for index, key in enumerate(keys):
            base = (KEY, key), (PROVIDER, "ConfigGen")
            yield REQUESTS, base, now[index]
            yield SUCCESS, base, now[index] - sum(failed[index].values())
            for cause, count in failed[index].items():
                yield ERRORS, (*base, (REASON, "ERROR"), (ERROR_TYPE, cause)), count

    return report


def _counting_getter(original: Any, name: str) -> Any:
    """*original* (a generated getter), counting its calls in a closure cell ``count``.

    A closure cell is the cheapest counter Python has; plain and targeted getters are
    written out again, so that counting adds no call.
    """
    attribute = f"_{name}_value"
    if _is_plain(original, attribute):
        body = f"        return self.{attribute}\n"
    elif _is_targeted(original, attribute):  # a stored value needs no targeting
        body = (
            f"        stored = self.{attribute}\n"
            "        if stored is not None:\n"
            "            return stored\n"
            "        return original(self, ctx)\n"
        )
    else:
        body = "        return original(self, ctx)\n"
    source = (
        "def make(original):\n"
        "    count = 0\n"
        f"    def {name}(self, ctx=None):\n"
        "        nonlocal count\n"
        "        count += 1\n"
        f"{body}"
        f"    return {name}\n"
    )
    namespace: dict[str, Any] = {}
    exec(source, namespace)
    getter = namespace["make"](original)
    getter.__doc__ = original.__doc__
    return getter


# ---- ConfigGenProvider ----------------------------------------------------------------------

_RESOLVERS = (
    "resolve_boolean_details",
    "resolve_string_details",
    "resolve_integer_details",
    "resolve_float_details",
    "resolve_object_details",
)


UNKNOWN_KEY = "(unknown)"
"""The ``feature_flag.key`` of evaluations of keys that are no flag of the provider's file."""


def _instrument_provider(provider: Any) -> Callable[[], Iterable[Reading]]:
    name = provider.get_metadata().name
    counts: dict[tuple[str, str | None, str | None, str | None], int] = {}
    lock = threading.Lock()
    cls = type(provider)

    def counting(method: Callable[..., Any]) -> Callable[..., Any]:
        def resolve(self: Any, flag_key: str, *args: Any, **kwargs: Any) -> Any:
            # a key that is no flag counts under one name: callers choose keys freely
            key = flag_key if flag_key in getattr(self, "flags", {}) else UNKNOWN_KEY
            try:
                details = method(self, flag_key, *args, **kwargs)
            except Exception:
                with lock:
                    failed: tuple[str, str | None, str | None, str | None] = (
                        key, None, "ERROR", "general",
                    )  # fmt: skip
                    counts[failed] = counts.get(failed, 0) + 1
                raise
            code, reason, variant = details.error_code, details.reason, details.variant
            fallback = (details.flag_metadata or {}).get("fallback")
            seen = (
                key,
                variant if variant is None or len(variant) <= 100 else variant[:100] + "…",
                None if reason is None else str(getattr(reason, "value", reason)),
                str(getattr(code, "value", code)).lower() if code is not None else fallback,
            )
            with lock:
                counts[seen] = counts.get(seen, 0) + 1
            return details

        resolve.__name__ = method.__name__
        resolve.__doc__ = method.__doc__
        return resolve

    members: dict[str, Any] = {"_configgen_counting": True}
    members.update({method: counting(getattr(cls, method)) for method in _RESOLVERS})
    provider.__class__ = type(cls.__name__, (cls,), members)

    def report() -> Iterable[Reading]:
        with lock:
            now = dict(counts)
        for (key, variant, reason, error), count in now.items():
            base: Attributes = ((KEY, key), (PROVIDER, name))
            yield REQUESTS, base, count
            if error is None:
                result = [(REASON, reason)] if reason is not None else []
                if variant is not None:
                    result.append((VARIANT, variant))
                yield SUCCESS, (*base, *result), count
            else:
                yield ERRORS, (*base, (REASON, reason or "ERROR"), (ERROR_TYPE, error)), count

    return report
