"""Replay-safe flag reads inside Temporal workflows.

Workflow code must be deterministic: a replay of its history must take the same path as the
first run. A flag read straight from a getter inside a workflow may answer differently on
replay (the flag changed in between), and the replay fails with a non-determinism error. Here
a read is a local activity, whose result Temporal records in the workflow's history and hands
back on replay:

- the worker registers ``FlagsPlugin(flags)`` (the activity that reads ``flags``, and the
  sandbox settings that refuse ``Flags(...)`` in workflow code); clients connect with
  ``data_converter``, which carries the generated ``EvaluationContext``;
- workflow code awaits ``workflow_flag(Flags.new_checkout, ctx)`` (typed as the getter) or
  ``workflow_snapshot(Flags.new_checkout, UiFlags.theme, ctx=ctx)`` (one recorded read of
  several flags);
- a getter of the worker's ``flags`` called inside workflow code raises
  `FlagReadInWorkflow`, naming the call to make instead;
- `FlagChangeNotifier` signals subscribed long-running workflows when the store changes.

Needs ``pip install 'python-configgen[temporal]'``. See docs/temporal.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import sys
import threading
import time
import types
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from typing import Any, Generic, TypeVar, overload

try:
    import temporalio.activity
    import temporalio.client
    import temporalio.common
    import temporalio.converter
    import temporalio.exceptions
    import temporalio.service
    import temporalio.workflow
    from temporalio.plugin import SimplePlugin
    from temporalio.worker import WorkflowRunner
    from temporalio.worker.workflow_sandbox import (
        SandboxedWorkflowRunner,
        SandboxMatcher,
        SandboxRestrictions,
    )
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "configgen.temporal needs the Temporal SDK: pip install 'python-configgen[temporal]'"
    ) from exc

__all__ = [
    "ACTIVITY_NAME",
    "FLAGS_CHANGED",
    "FlagChangeNotifier",
    "FlagReadFailed",
    "FlagReadInWorkflow",
    "FlagRequest",
    "FlagSnapshot",
    "FlagValues",
    "FlagsPayloadConverter",
    "FlagsPlugin",
    "data_converter",
    "flag_activity",
    "workflow_flag",
    "workflow_snapshot",
]

logger = logging.getLogger(__name__)

ACTIVITY_NAME = "configgen.read_flags"
"""The name of the local activity that reads flags (``flag_activity(flags)``)."""

FLAGS_CHANGED = "configgen.flags_changed"
"""The signal `FlagChangeNotifier` sends (no arguments) after the store reports a change."""

T = TypeVar("T")
C = TypeVar("C")

# A read: at most 2 s per attempt, at most 20 attempts 0.1 s, 0.2 s ... 2 s apart (about
# 30 s when attempts fail at once, about 70 s when each runs into its 2 s). A getter is a
# plain in-memory read, so an attempt that fails or takes longer means a worker in trouble.
# The attempts bound the read: the SDK (temporalio 1.35) keeps retrying a local activity past
# its schedule_to_close_timeout while it heartbeats the workflow task, so that one is a
# backstop only.
_ATTEMPT = timedelta(seconds=2)
_IN_ALL = timedelta(seconds=90)
_RETRY = temporalio.common.RetryPolicy(
    initial_interval=timedelta(milliseconds=100),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=2),
    maximum_attempts=20,
    non_retryable_error_types=["UnknownFlagGetter"],
)


class FlagReadInWorkflow(RuntimeError):
    """A getter of a ``Flags`` was called inside workflow code.

    Its answer would not be recorded in the workflow's history, so a replay after the flag
    changed could take another path. Raised as a plain exception, it fails the workflow task
    (not the workflow): Temporal retries the task, and the workflow goes on once the code is
    fixed and the worker restarted.
    """


class FlagReadFailed(RuntimeError):
    """The worker could not read a flag for `workflow_flag` or `workflow_snapshot`.

    Its ``Flags`` has no such getter (an older generated module), the getter is of another
    generated module than the worker's ``Flags``, the flag activity is not registered (no
    ``FlagsPlugin(flags)``), or all 20 attempts failed. A plain exception: it fails the
    workflow task, not the workflow, so Temporal retries the task and the workflow goes on
    once a worker can read the flag.
    """


@dataclasses.dataclass(frozen=True)
class FlagRequest:
    """What the flag activity reads: getters by their qualified name, and the context."""

    getters: list[str]
    """``Flags.new_checkout``, ``UiFlags.theme``: the getters' ``__qualname__``."""
    targeting_key: str | None = None
    attributes: dict[str, Any] = dataclasses.field(default_factory=dict)
    with_context: bool = False
    """Whether the workflow gave a context (the getters get None otherwise)."""
    module: str | None = None
    """The generated module the getters are of (``shop.configgen_flags``); None: not checked."""


@dataclasses.dataclass(frozen=True)
class FlagValues:
    """What the flag activity answered: each getter's value, and the context it used."""

    values: dict[str, Any]
    """By the getters' ``__qualname__``."""
    paths: dict[str, str]
    """Each getter's place under ``Flags``: ``new_checkout``, ``ui.theme``."""
    targeting_key: str | None = None
    attributes: dict[str, Any] = dataclasses.field(default_factory=dict)


# ---- the worker side ------------------------------------------------------------------------


class _Getter:
    """One getter of a ``Flags``: where it is, the object holding it and the original code."""

    __slots__ = ("function", "holder", "path")

    def __init__(self, path: str, holder: object, function: Callable[..., Any]) -> None:
        self.path = path
        self.holder = holder
        self.function = function


def _holders(flags: object) -> list[tuple[str, object]]:
    """*flags* and every category object under it, with the dotted prefix of its getters."""
    found: list[tuple[str, object]] = []
    pending: list[tuple[str, object]] = [("", flags)]
    while pending:
        prefix, holder = pending.pop()
        found.append((prefix, holder))
        for name in sorted(_slots(type(holder))):
            child = getattr(holder, name, None)
            if not name.startswith("_") and hasattr(child, "_root"):
                pending.append((f"{prefix}{name}.", child))
    return found


def _slots(cls: type) -> set[str]:
    """The slots of *cls* and of its bases (a switched-in subclass adds none)."""
    return {name for base in cls.__mro__ for name in base.__dict__.get("__slots__", ())}


def _getter_names(cls: type) -> list[str]:
    """The getters of a generated ``Flags`` or category class: those with a ``_<name>_value``."""
    slots = _slots(cls)
    return sorted(
        name
        for name in dir(cls)
        if not name.startswith("_") and f"_{name}_value" in slots and callable(getattr(cls, name))
    )


def _getters(flags: object) -> dict[str, _Getter]:
    """Every getter of *flags* by its ``__qualname__`` (``UiFlags.theme``)."""
    getters: dict[str, _Getter] = {}
    for prefix, holder in _holders(flags):
        cls = type(holder)
        for name in _getter_names(cls):
            function = getattr(cls, name)
            original = getattr(function, "_configgen_unguarded", function)
            qualname = f"{_class_name(cls)}.{name}"
            getters[qualname] = _Getter(prefix + name, holder, original)
    return getters


def _generated_class(cls: type) -> type:
    """The generated class under the subclasses configgen.otel and this module switch in."""
    while cls.__dict__.get("_configgen_counting") or cls.__dict__.get("_configgen_guarded"):
        cls = cls.__mro__[1]
    return cls


def _class_name(cls: type) -> str:
    return _generated_class(cls).__qualname__


def _guard(flags: object, getters: Mapping[str, _Getter]) -> None:
    """Switch *flags* and its categories to subclasses whose getters refuse workflow code."""
    classes: dict[type, type] = {}
    for qualname, getter in getters.items():
        cls = type(getter.holder)
        if cls.__dict__.get("_configgen_guarded"):
            continue
        if cls not in classes:
            members = {"__slots__": (), "_configgen_guarded": True, "__module__": cls.__module__}
            subclass: Any = type(cls.__name__, (cls,), members)
            # No slots of its own (the layout must stay the generated class's), but the same
            # names where code looks for the getters: configgen.otel finds them there.
            subclass.__slots__ = getattr(cls, "__slots__", ())
            classes[cls] = subclass
        name = getter.path.rpartition(".")[2]
        setattr(classes[cls], name, _guarded(getattr(cls, name), qualname, getter.path))
    for getter in getters.values():
        if type(getter.holder) in classes:
            getter.holder.__class__ = classes[type(getter.holder)]


# The last asyncio event loop found not to run workflow code: a service's own loop, asked
# once. A workflow's loop is of another kind (not an asyncio.BaseEventLoop), so the answer
# holds for good; and kept alive here, the loop's id cannot be reused.
_plain_loop: list[object] = [None]


def _guarded(function: Callable[..., T], qualname: str, path: str) -> Callable[..., T]:
    in_workflow = temporalio.workflow.in_workflow
    running_loop = asyncio._get_running_loop  # None outside a loop, without raising
    plain = _plain_loop

    def getter(self: object, ctx: object = None) -> T:
        loop = running_loop()
        if loop is not None and loop is not plain[0]:
            if not in_workflow():
                if isinstance(loop, asyncio.BaseEventLoop):  # never a workflow's loop
                    plain[0] = loop
                return function(self, ctx)
            raise FlagReadInWorkflow(
                f"flags.{path}() was called inside workflow code: its value is not recorded "
                "in the workflow's history, so a replay after the flag changed would take "
                f"another path; use 'await workflow_flag({qualname}, ctx)' or "
                "workflow_snapshot() from configgen.temporal"
            )
        return function(self, ctx)

    getter.__name__ = function.__name__
    getter.__qualname__ = function.__qualname__
    getter.__module__ = function.__module__
    getter.__doc__ = function.__doc__
    getter._configgen_unguarded = function  # type: ignore[attr-defined]
    return getter


def flag_activity(flags: Any, *, name: str = ACTIVITY_NAME) -> Callable[..., Any]:
    """The activity that reads *flags* (a generated ``Flags``) for `workflow_flag`.

    Register it on the worker (``FlagsPlugin(flags)`` does). It answers from the getters,
    which never raise: a store that is down gives each flag's default, as it does outside
    Temporal. It also switches *flags* to getters that raise `FlagReadInWorkflow` when called
    inside workflow code (outside it they cost one check of the running event loop).
    """
    getters = _getters(flags)
    if not getters:
        raise TypeError(f"{flags!r} is not a generated Flags: it has no getters")
    _guard(flags, getters)
    module = sys.modules[_generated_module(flags)]
    make_context: Callable[..., Any] = module.EvaluationContext

    @temporalio.activity.defn(name=name)
    async def read_flags(request: FlagRequest) -> FlagValues:
        if request.module is not None and request.module != module.__name__:
            raise temporalio.exceptions.ApplicationError(
                f"{', '.join(request.getters)} of {request.module} asked of a worker whose "
                f"Flags is {module.__name__}: a workflow reads the flags of the Flags given "
                f"to FlagsPlugin, so pass getters of {module.__name__} (or give the worker's "
                f"FlagsPlugin a Flags of {request.module})",
                type="UnknownFlagGetter",
                non_retryable=True,
            )
        unknown = [qualname for qualname in request.getters if qualname not in getters]
        if unknown:
            known = ", ".join(sorted(getters))
            raise temporalio.exceptions.ApplicationError(
                f"the worker's Flags ({module.__name__}) has no getter "
                f"{', '.join(unknown)}; it has {known}",
                type="UnknownFlagGetter",
                non_retryable=True,
            )
        ctx = None
        if request.with_context:
            ctx = make_context(request.targeting_key, dict(request.attributes))
        values = {}
        for qualname in request.getters:
            getter = getters[qualname]
            values[qualname] = getter.function(getter.holder, ctx)
        paths = {qualname: getters[qualname].path for qualname in request.getters}
        return FlagValues(values, paths, request.targeting_key, dict(request.attributes))

    return read_flags


# ---- the data converter ---------------------------------------------------------------------


def _is_context(cls: object) -> bool:
    """Is *cls* the ``EvaluationContext`` of a generated flags module?"""
    if not isinstance(cls, type) or cls.__name__ != "EvaluationContext":
        return False
    module = sys.modules.get(cls.__module__)
    return hasattr(module, "Flags") and hasattr(module, "FlagStore")


class _ContextEncoder(temporalio.converter.AdvancedJSONEncoder):
    """Temporal's JSON encoder, and a generated ``EvaluationContext`` as a JSON object."""

    def default(self, o: Any) -> Any:
        if _is_context(type(o)):
            return {"targeting_key": o.targeting_key, "attributes": dict(o.attributes)}
        return super().default(o)


class _ContextDecoder(temporalio.converter.JSONTypeConverter):
    """A JSON object back into the generated ``EvaluationContext`` a type hint names."""

    def to_typed_value(self, hint: type, value: Any) -> Any:
        if not _is_context(hint):
            return temporalio.converter.JSONTypeConverter.Unhandled
        if not isinstance(value, dict) or set(value) - {"targeting_key", "attributes"}:
            raise TypeError(f"{value!r} is not an EvaluationContext (targeting_key, attributes)")
        targeting_key = value.get("targeting_key")
        attributes = value.get("attributes") or {}
        if not (targeting_key is None or isinstance(targeting_key, str)):
            raise TypeError(f"EvaluationContext: targeting_key {targeting_key!r} is not a string")
        if not isinstance(attributes, dict):
            raise TypeError(f"EvaluationContext: attributes {attributes!r} is not an object")
        return hint(targeting_key, attributes)


class FlagsPayloadConverter(temporalio.converter.CompositePayloadConverter):
    """Temporal's default payload converter, which also carries a generated ``EvaluationContext``.

    The context travels as the JSON object ``{"targeting_key": ..., "attributes": {...}}``
    and comes back as the ``EvaluationContext`` the workflow's or activity's type hint names,
    so a workflow can take one as an argument. (Temporal's own converter refuses it: it cannot
    decode ``attributes: Mapping[str, object]``.)
    """

    def __init__(self) -> None:
        plain = temporalio.converter.JSONPlainPayloadConverter
        json_converter = plain(encoder=_ContextEncoder, custom_type_converters=[_ContextDecoder()])
        converters = [
            json_converter if isinstance(each, plain) else each
            for each in temporalio.converter.DefaultPayloadConverter.default_encoding_payload_converters
        ]
        super().__init__(*converters)


data_converter = dataclasses.replace(
    temporalio.converter.DataConverter.default, payload_converter_class=FlagsPayloadConverter
)
"""Temporal's default data converter with `FlagsPayloadConverter`: for
``Client.connect(..., data_converter=data_converter)`` in processes that start workflows."""


def _with_payload_converter(
    existing: temporalio.converter.DataConverter | None,
) -> temporalio.converter.DataConverter:
    if existing is None:
        return data_converter
    if existing.payload_converter_class is temporalio.converter.DefaultPayloadConverter:
        return dataclasses.replace(existing, payload_converter_class=FlagsPayloadConverter)
    return existing  # a converter of the application's own: left as it is


# ---- the plugin -----------------------------------------------------------------------------


class FlagsPlugin(SimplePlugin):
    """What a worker needs for `workflow_flag`: ``Worker(client, ..., plugins=[FlagsPlugin(flags)])``.

    It registers ``flag_activity(flags)``; sets the workflow sandbox so that ``Flags(...)``
    called inside workflow code fails with a message naming `workflow_flag` (the generated
    module must then be imported by the workflow as usual, not passed through) and
    ``configgen.temporal`` is passed through; and, given to ``Client.connect`` or a
    ``Replayer``, sets `FlagsPayloadConverter` unless the data converter is already a custom
    one. ``FlagsPlugin()`` without *flags* does all but the activity and the sandbox rule:
    for a ``Replayer``.
    """

    def __init__(self, flags: Any = None, *, name: str = ACTIVITY_NAME) -> None:
        activities: list[Callable[..., Any]] = []
        module = None
        if flags is not None:
            activities.append(flag_activity(flags, name=name))
            module = _generated_module(flags)

        def runner(existing: WorkflowRunner | None) -> WorkflowRunner:
            if existing is None:
                existing = SandboxedWorkflowRunner()
            if not isinstance(existing, SandboxedWorkflowRunner):
                return existing  # the application's own runner: left as it is
            restrictions = _restricted(existing.restrictions, module)
            return dataclasses.replace(existing, restrictions=restrictions)

        super().__init__(
            "configgen.FlagsPlugin",
            data_converter=_with_payload_converter,
            activities=activities or None,
            workflow_runner=runner,
        )


def _generated_module(flags: Any) -> str:
    return _generated_class(type(flags)).__module__


def _restricted(restrictions: SandboxRestrictions, module: str | None) -> SandboxRestrictions:
    """*restrictions* with configgen.temporal passed through and ``module.Flags()`` refused."""
    restrictions = restrictions.with_passthrough_modules("configgen.temporal")
    if module is None:
        return restrictions
    path = (*module.split("."), "Flags", "__call__")
    if restrictions.invalid_module_members.child_matcher(*path[:-1]):
        return restrictions  # refused already (the plugin given twice)
    refused = SandboxMatcher.nested_child(
        path[:-1],
        SandboxMatcher(
            children={
                "__call__": SandboxMatcher(
                    match_self=True,
                    leaf_message=(
                        f"{module}.Flags(...) inside workflow code: a getter read there "
                        "is not recorded in the workflow's history, so a replay after the "
                        "flag changed would take another path; read flags with 'await "
                        "workflow_flag(Flags.<flag>, ctx)' or workflow_snapshot() from "
                        "configgen.temporal; build Flags in the worker, in a module that "
                        "workflow code imports only inside "
                        "workflow.unsafe.imports_passed_through() (as 'from app.worker "
                        "import flags'): a module the sandbox imports again runs its "
                        "Flags(...) inside workflow code"
                    ),
                )
            }
        ),
    )
    return dataclasses.replace(
        restrictions, invalid_module_members=restrictions.invalid_module_members | refused
    )


# ---- the workflow side ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FlagSnapshot(Generic[C]):
    """Several flags read at one point of a workflow, as its history recorded them.

    ``snapshot[Flags.new_checkout]`` is typed as the getter (``bool``); ``context`` is the
    evaluation context the values were read for.
    """

    context: C | None
    """The ``EvaluationContext`` of the read (None: read without one)."""
    values: Mapping[str, object]
    """Each flag's value by its place under ``Flags`` (``new_checkout``, ``ui.theme``)."""
    _by_getter: Mapping[str, str] = dataclasses.field(repr=False)
    _module: str | None = dataclasses.field(default=None, repr=False)

    def __getitem__(self, getter: Callable[[Any, C], T]) -> T:
        """The value of the flag whose getter is *getter* (``Flags.new_checkout``)."""
        qualname = _qualname(getter)
        module = _module_of(getter)
        if self._module is not None and module != self._module:
            raise KeyError(
                f"{qualname} of {module} is not in this snapshot: it read getters of {self._module}"
            )
        path = self._by_getter.get(qualname)
        if path is None:
            raise KeyError(
                f"{qualname} is not in this snapshot; it holds "
                f"{', '.join(sorted(self._by_getter)) or 'no flags'}"
            )
        value: T = self.values[path]  # type: ignore[assignment]
        return value


def _qualname(getter: object) -> str:
    """``Flags.new_checkout`` for the getter ``Flags.new_checkout``; a clear error otherwise."""
    qualname = getattr(getter, "__qualname__", None)
    if isinstance(getter, types.MethodType):
        raise TypeError(
            f"pass the getter of the class, not of an instance: workflow_flag("
            f"{qualname or getter!r}, ctx), as 'Flags.new_checkout' or 'UiFlags.theme'"
        )
    if not isinstance(qualname, str) or qualname.count(".") != 1 or not callable(getter):
        raise TypeError(
            f"{getter!r} is not a flag getter: pass one as 'Flags.new_checkout' or "
            "'UiFlags.theme' (the class that holds it, then its name)"
        )
    return qualname


def _module_of(getter: object) -> str | None:
    """The module a getter was generated in (``shop.configgen_flags``)."""
    module = getattr(getter, "__module__", None)
    return module if isinstance(module, str) else None


def _one_module(getters: Iterable[object]) -> str | None:
    """The generated module of *getters*; a `TypeError` when they are of several."""
    modules = {_module_of(getter): _qualname(getter) for getter in getters}
    if len(modules) > 1:
        listed = ", ".join(f"{qualname} of {module}" for module, qualname in modules.items())
        raise TypeError(
            f"workflow_snapshot() reads the flags of one generated module, the worker's: "
            f"got {listed}"
        )
    return next(iter(modules), None)


def _in_workflow(call: str, qualname: str) -> None:
    """Raise unless called from workflow code, naming what to call instead."""
    if not temporalio.workflow.in_workflow():
        raise RuntimeError(
            f"{call}() is for workflow code (it records the read in the workflow's "
            f"history); outside a workflow call the getter {qualname} of your Flags directly"
        )


def _request(qualnames: list[str], ctx: object, module: str | None) -> FlagRequest:
    if ctx is None:
        return FlagRequest(qualnames, module=module)
    targeting_key = getattr(ctx, "targeting_key", None)
    attributes = getattr(ctx, "attributes", None)
    if not isinstance(attributes, Mapping) or not (
        targeting_key is None or isinstance(targeting_key, str)
    ):
        raise TypeError(f"{ctx!r} is not an EvaluationContext")
    return FlagRequest(qualnames, targeting_key, dict(attributes), with_context=True, module=module)


async def _read(request: FlagRequest, activity: str) -> FlagValues:
    try:
        read: FlagValues = await temporalio.workflow.execute_local_activity(
            activity,
            request,
            result_type=FlagValues,
            start_to_close_timeout=_ATTEMPT,
            schedule_to_close_timeout=_IN_ALL,
            retry_policy=_RETRY,
            summary=", ".join(request.getters),
        )
    except temporalio.exceptions.FailureError as exc:
        # A local activity's failure reaches the workflow as an ActivityError or, once it is
        # not retried (non-retryable, or out of attempts), as the bare ApplicationError;
        # either would fail the workflow. A plain exception fails the workflow task instead:
        # Temporal retries it, and the workflow goes on once a worker can read the flag.
        if temporalio.exceptions.is_cancelled_exception(exc):
            raise
        raise FlagReadFailed(f"reading {', '.join(request.getters)}: {_reason(exc)}") from None
    except ValueError as exc:
        if "is not registered on this worker" not in str(exc):
            raise
        raise FlagReadFailed(
            f"reading {', '.join(request.getters)}: the worker has no activity {activity!r}; "
            "give it plugins=[FlagsPlugin(flags)] (configgen.temporal)"
        ) from None
    return read


def _reason(exc: temporalio.exceptions.FailureError) -> str:
    """What went wrong: the flag activity's own message, or the failure with its type."""
    cause = exc.cause if isinstance(exc, temporalio.exceptions.ActivityError) else exc
    if isinstance(cause, temporalio.exceptions.ApplicationError) and (
        cause.type == "UnknownFlagGetter"
    ):
        return cause.message
    return str(cause or exc)


@overload
async def workflow_flag(getter: Callable[[Any, C], T], ctx: C, *, activity: str = ...) -> T: ...
@overload
async def workflow_flag(getter: Callable[[Any, C], T], *, activity: str = ...) -> T: ...
async def workflow_flag(
    getter: Callable[[Any, Any], T], ctx: object = None, *, activity: str = ACTIVITY_NAME
) -> T:
    """The value of a flag for *ctx*, read once and recorded in the workflow's history.

    *getter* is the getter of the class (``Flags.new_checkout``, ``UiFlags.theme``); the
    result has its type. Call it from workflow code only: it runs the worker's flag activity
    (`flag_activity`) as a local activity (2 s per attempt, at most 20 attempts), and a
    replay takes the value from the history, whatever the store holds by then.
    """
    qualname = _qualname(getter)
    _in_workflow("workflow_flag", qualname)
    read = await _read(_request([qualname], ctx, _module_of(getter)), activity)
    value: T = read.values[qualname]
    return value


async def workflow_snapshot(
    *getters: Callable[[Any, C], object], ctx: C | None = None, activity: str = ACTIVITY_NAME
) -> FlagSnapshot[C]:
    """Several flags for *ctx* in one recorded read: ``snapshot[Flags.new_checkout]``.

    One local activity reads them all at one moment, so they agree with each other; the
    snapshot's ``context`` is the context as recorded.
    """
    qualnames = list(dict.fromkeys(_qualname(getter) for getter in getters))
    if not qualnames:
        raise TypeError("workflow_snapshot() needs at least one getter")
    module = _one_module(getters)
    _in_workflow("workflow_snapshot", qualnames[0])
    read = await _read(_request(qualnames, ctx, module), activity)
    context = ctx
    if ctx is not None:
        context = type(ctx)(read.targeting_key, read.attributes)  # type: ignore[call-arg]
    values = {read.paths[qualname]: read.values[qualname] for qualname in qualnames}
    return FlagSnapshot(context, values, {q: read.paths[q] for q in qualnames}, module)


# ---- long-running workflows -----------------------------------------------------------------


class FlagChangeNotifier:
    """Signals followed workflows (`FLAGS_CHANGED`) whenever a flag store reports a change.

    ``async with FlagChangeNotifier(client, flags.store) as notifier: notifier.follow(id)``,
    or ``query="WorkflowType = 'Dispatch'"`` to signal the running workflows a visibility
    query finds. A workflow that must follow a flag while it runs handles the signal by
    reading the flag again with `workflow_flag`: the signal and the new read are both in its
    history. Run one in every worker process, on the store of the ``Flags`` given to
    `FlagsPlugin`: a signal then comes only after that store has the change, and the last
    signal after every worker's store has it (docs/temporal.md). Changes that arrive while
    signals are being sent are folded into one more round; a followed workflow that has
    ended is forgotten (one not found within ``GRACE`` seconds of `follow` is kept: it may
    not have started yet); a failed signal is logged and counted in ``errors``.
    """

    GRACE = 300.0
    """Seconds a followed id that was never found running is kept (started after `follow`)."""

    def __init__(
        self,
        client: temporalio.client.Client,
        store: Any,
        *,
        signal: str = FLAGS_CHANGED,
        follow: Iterable[str] = (),
        query: str | None = None,
    ) -> None:
        self.client = client
        self.store = store
        self.signal = signal
        self.query = query
        """A visibility query: the running workflows it finds are signalled too."""
        self.sent = 0
        """How many signals were delivered."""
        self.errors = 0
        """How many signals failed (other than to workflows that had ended)."""
        self._followed: set[str] = set(follow)
        self._since: dict[str, float] = {id_: time.monotonic() for id_ in self._followed}
        self._found: set[str] = set()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    def follow(self, workflow_id: str) -> None:
        """Signal the workflow *workflow_id* after every change from now on."""
        with self._lock:
            self._followed.add(workflow_id)
            self._since.setdefault(workflow_id, time.monotonic())

    def forget(self, workflow_id: str) -> None:
        """Stop signalling *workflow_id*."""
        with self._lock:
            self._followed.discard(workflow_id)
            self._since.pop(workflow_id, None)
            self._found.discard(workflow_id)

    @property
    def followed(self) -> frozenset[str]:
        """The workflow ids signalled after a change."""
        with self._lock:
            return frozenset(self._followed)

    async def start(self) -> None:
        """Watch the store (on the running event loop); ``async with`` calls this."""
        if self._task is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._changed = asyncio.Event()
        self._task = self._loop.create_task(self._run())
        self.store.watch(self._on_change)

    async def close(self) -> None:
        """Stop signalling (the store has no way to unwatch: later changes are ignored)."""
        task, self._task, self._loop = self._task, None, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def __aenter__(self) -> FlagChangeNotifier:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _on_change(self) -> None:
        loop, changed = self._loop, self._changed
        if loop is None or changed is None:
            return
        try:
            loop.call_soon_threadsafe(changed.set)
        except RuntimeError:  # the loop has closed
            logger.debug("FlagChangeNotifier: the event loop has closed")

    async def _run(self) -> None:
        assert self._changed is not None
        while True:
            await self._changed.wait()
            self._changed.clear()
            ids = set(self.followed) | await self._queried()
            await asyncio.gather(*(self._send(id_) for id_ in sorted(ids)))

    async def _queried(self) -> set[str]:
        """The ids of the running workflows ``query`` finds (none without one)."""
        if self.query is None:
            return set()
        query = f"({self.query}) AND ExecutionStatus = 'Running'"
        try:
            return {each.id async for each in self.client.list_workflows(query)}
        except Exception as exc:
            self.errors += 1
            logger.warning("listing the workflows %r failed: %s", self.query, exc)
            return set()

    async def _send(self, workflow_id: str) -> None:
        try:
            await self.client.get_workflow_handle(workflow_id).signal(self.signal)
        except temporalio.service.RPCError as exc:
            if exc.status == temporalio.service.RPCStatusCode.NOT_FOUND:
                self._not_found(workflow_id)
                return
            self.errors += 1
            logger.warning("signalling workflow %s failed: %s", workflow_id, exc)
        except Exception as exc:
            self.errors += 1
            logger.warning("signalling workflow %s failed: %s", workflow_id, exc)
        else:
            self.sent += 1
            with self._lock:
                self._found.add(workflow_id)

    def _not_found(self, workflow_id: str) -> None:
        """Forget *workflow_id* if it ended, or was never found for ``GRACE`` seconds."""
        with self._lock:
            since = self._since.get(workflow_id)
            young = since is not None and time.monotonic() - since < self.GRACE
            if workflow_id in self._found or not young:
                logger.info("workflow %s has ended: no longer signalled", workflow_id)
                self._followed.discard(workflow_id)
                self._since.pop(workflow_id, None)
                self._found.discard(workflow_id)
