"""Where Python code reads each flag, found from the syntax tree (no user code is imported).

The generated getters are methods of `Flags` and of its category classes, so a read is an
attribute of an expression known to hold a `Flags` object (or a category of one): made by
``Flags(...)``, ``test_flags()`` or ``test_flags_with(...)``, annotated as one, or bound from
one — a local name, a parameter, a module-level name imported elsewhere, ``self.x`` of a class,
a function or pytest fixture returning one, a category alias (``ui = flags.ui``). A keyword of
``test_flags_with(...)`` is a use by tests. Names are resolved per scope, without following the
order of statements: a name bound to a `Flags` in one place and to something else in another
still counts as a read, but is never reported as an unknown getter, which needs certainty.
"""

from __future__ import annotations

import ast
import functools
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from configgen.diagnostics import Diagnostic, did_you_mean
from configgen.model import FlagsSchema
from configgen.naming import FLAGS_MEMBERS
from configgen.settings import FLAGS_MODULE, TESTING_MODULE, Settings

FLAGS_MODULE_NAME = FLAGS_MODULE.removesuffix(".py")
TESTING_MODULE_NAME = TESTING_MODULE.removesuffix(".py")
HELPERS = ("test_flags", "test_flags_with")
SKIPPED_DIRS = frozenset(
    {".git", ".hg", ".mypy_cache", ".nox", ".ruff_cache", ".tox", ".venv", "__pycache__",
     "build", "dist", "node_modules", "site-packages", "venv"}
)  # fmt: skip
_ROUNDS = 6  # binding through binding through ...: deeper chains than this are not followed


class Reference(NamedTuple):
    """One use of a flag in Python code; lines and columns 1-based, ``end_col`` exclusive."""

    flag: str
    """The flag's dotted key."""
    path: Path
    shown: str
    line: int
    col: int
    end_line: int
    end_col: int
    test: bool
    """In a test file (under ``tests/``, ``test_*.py``, ``*_test.py``, ``conftest.py``)."""
    keyword: bool
    """A ``test_flags_with(...)`` keyword, not a getter."""

    def __str__(self) -> str:
        return f"{self.shown}:{self.line}:{self.col}"


class Scan(NamedTuple):
    """What `scan` found."""

    references: list[Reference]
    unknown: list[Diagnostic]
    """Getters and ``test_flags_with`` keywords that no flag has."""
    problems: list[Diagnostic]
    """Files that could not be read or parsed (they were skipped)."""
    files: int


class _Kind(NamedTuple):
    """What an expression holds, as far as flags go."""

    what: str  # flags | class | helper | factory | module | package | self
    path: tuple[str, ...] = ()  # the category (flags, class, factory)
    certain: bool = True
    name: str = ""  # helper name, module role, package dotted name, class id


class _Shape:
    """The flags of a schema as the generated code names them."""

    def __init__(self, schema: FlagsSchema) -> None:
        self.flags: dict[tuple[str, ...], str] = {f.path: f.key for f in schema.flags()}
        self.categories: dict[tuple[str, ...], str] = {}
        self.classes: dict[str, tuple[str, ...]] = {}
        for category in schema.root.walk():
            self.categories[category.path] = category.class_name
            self.classes[category.class_name] = category.path
        self.keywords = {"_".join(f.path): f.key for f in schema.flags()}

    def members(self, path: tuple[str, ...]) -> list[str]:
        return sorted(
            [p[-1] for p in self.flags if p[:-1] == path]
            + [p[-1] for p in self.categories if p and p[:-1] == path]
        )


def _merge(kinds: list[_Kind | None]) -> _Kind | None:
    """One name bound in several places: certain only when every binding agrees."""
    found = [kind for kind in kinds if kind is not None]
    if not found:
        return None
    first = found[0]
    certain = len(found) == len(kinds) and all(k == first for k in found)
    return first if certain else first._replace(certain=False)


class _Class:
    def __init__(self, ident: str, bases: list[ast.expr] | None = None,
                 scope: _Scope | None = None) -> None:  # fmt: skip
        self.ident = ident
        self.bases = bases or []
        self.scope = scope  # where the class statement is, for its bases
        self.attributes: dict[str, list[Callable[[], _Kind | None]]] = {}
        self.env: dict[str, _Kind] = {}


class _Scope:
    def __init__(self, module: _Module, parent: _Scope | None, owner: _Class | None = None) -> None:
        self.module = module
        self.parent = parent
        self.owner = owner  # for a method: its class
        self.self_name: str | None = None  # and the name of its first parameter
        self.bindings: dict[str, list[Callable[[], _Kind | None]]] = {}
        self.env: dict[str, _Kind] = {}
        self.stars: list[str] = []  # modules of ``from module import *``

    def bind(self, name: str, thunk: Callable[[], _Kind | None]) -> None:
        self.bindings.setdefault(name, []).append(thunk)

    def lookup(self, name: str) -> _Kind | None:
        scope: _Scope | None = self
        while scope is not None:
            if name in scope.bindings:
                return scope.env.get(name)
            scope = scope.parent
        for module in self.module.top.stars:
            found = self.module.project.modules.get(module)
            if found is not None and name in found.top.bindings:
                return found.top.env.get(name)
        return None


class _Module:
    """One Python file: its scopes and bindings, evaluated again each round."""

    def __init__(self, project: _Project, path: Path, shown: str, tree: ast.Module) -> None:
        self.project = project
        self.path = path
        self.shown = shown
        self.tree = tree
        self.name, self.package = _module_name(path)
        self.test = _is_test_file(path)
        self.scopes: list[_Scope] = []
        self.classes: list[_Class] = []
        self.scope_of: dict[int, _Scope] = {}
        self.fixtures: list[tuple[str, Callable[[], _Kind | None]]] = []
        # ``state.flags = Flags()``: attributes of objects other than ``self``
        self.loose: dict[str, list[Callable[[], _Kind | None]]] = {}
        self.loose_env: dict[str, _Kind] = {}
        self.top = self.new_scope(None)
        self.collect(tree.body, self.top, None)

    def new_scope(self, parent: _Scope | None, owner: _Class | None = None) -> _Scope:
        scope = _Scope(self, parent, owner)
        self.scopes.append(scope)
        return scope

    # -- collecting bindings -----------------------------------------------------------

    def collect(self, body: Iterable[ast.stmt], scope: _Scope, cls: _Class | None) -> None:
        """Bindings of one scope's statements; *cls* when the statements are a class body."""
        for node in body:
            for child in _own_nodes(node):
                self.binding(child, scope, cls)

    def binding(self, node: ast.AST, scope: _Scope, cls: _Class | None) -> None:
        target = cls.attributes if cls is not None else None
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self.function(node, scope, cls)
        elif isinstance(node, ast.ClassDef):
            inner = _Class(f"{self.shown}:{node.lineno}:{node.name}", node.bases, scope)
            self.classes.append(inner)
            scope.bind(node.name, functools.partial(self.class_kind, inner))
            self.collect(node.body, scope, inner)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                self.import_name(alias, scope)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node.module, node.level, self.package)
            for alias in node.names:
                if alias.name == "*":
                    scope.stars.append(base)
                    continue
                name = alias.asname or alias.name
                scope.bind(name, functools.partial(self.imported, base, alias.name))
        elif isinstance(node, ast.Assign):
            for each in node.targets:
                self.assign(each, node.value, scope, target)
        elif isinstance(node, ast.AnnAssign):
            annotation, value = node.annotation, node.value
            thunk = lambda: (  # noqa: E731
                self.annotated(annotation, scope)
                or (self.kind(value, scope) if value is not None else None)
            )
            self.store(node.target, thunk, scope, target)
        elif isinstance(node, ast.NamedExpr):
            value = node.value
            scope.bind(node.target.id, lambda: self.kind(value, scope))
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
            self.loop(node.target, node.iter, scope)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                if isinstance(item.optional_vars, ast.Name):
                    entered = item.context_expr
                    scope.bind(item.optional_vars.id,
                               functools.partial(self.entered, entered, scope))  # fmt: skip
                elif item.optional_vars is not None:
                    for name in _names(item.optional_vars):
                        scope.bind(name, lambda: None)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            scope.bind(node.name, lambda: None)
        elif isinstance(node, ast.MatchAs) and node.name:
            pattern = node.pattern
            if isinstance(pattern, ast.MatchClass):
                cls_node = pattern.cls
                scope.bind(node.name, lambda: self.annotated(cls_node, scope))
            else:
                scope.bind(node.name, lambda: None)
        elif isinstance(node, ast.MatchMapping) and node.rest is not None:
            scope.bind(node.rest, lambda: None)
        elif isinstance(node, ast.MatchStar) and node.name:
            scope.bind(node.name, lambda: None)

    def class_kind(self, cls: _Class) -> _Kind | None:
        """A class statement: a subclass of ``Flags`` (or of a category class) is one, not
        for certain (it may add methods); any other class is known by its identity."""
        for base in cls.bases:
            kind = self.kind(base, cls.scope or self.top)
            if kind is not None and kind.what == "class":
                return kind._replace(certain=False)
        return _Kind("userclass", name=cls.ident)

    def loop(self, target: ast.expr, iterated: ast.expr, scope: _Scope) -> None:
        """``for f in fs``: *f* holds a `Flags` when *fs* is a container of them;
        ``for i, f in enumerate(fs)`` and ``for k, f in mapping.items()`` too."""
        if isinstance(target, ast.Name):
            scope.bind(target.id, functools.partial(self.element, iterated, scope))
            return
        pair = isinstance(target, (ast.Tuple, ast.List)) and len(target.elts) == 2
        second = target.elts[1] if pair else None  # type: ignore[attr-defined]
        for name in _names(target):
            if isinstance(second, ast.Name) and name == second.id:
                scope.bind(name, functools.partial(self.paired, iterated, scope))
            else:
                scope.bind(name, lambda: None)

    def element(self, iterated: ast.expr, scope: _Scope) -> _Kind | None:
        kind = self.kind(iterated, scope)
        return kind._replace(what="flags") if kind is not None and kind.what == "items" else None

    def paired(self, iterated: ast.expr, scope: _Scope) -> _Kind | None:
        if not isinstance(iterated, ast.Call):
            return None
        if (
            isinstance(iterated.func, ast.Name)
            and iterated.func.id == "enumerate"
            and iterated.args
        ):
            return self.element(iterated.args[0], scope)
        if isinstance(iterated.func, ast.Attribute) and iterated.func.attr == "items":
            kind = self.kind(iterated.func.value, scope)
            if kind is not None and kind.what == "mapping":
                return kind._replace(what="flags")
        return None

    def entered(self, manager: ast.expr, scope: _Scope) -> _Kind | None:
        """``with nullcontext(flags) as f`` (or a manager that is a `Flags`)."""
        if (
            isinstance(manager, ast.Call)
            and _dotted(manager.func).split(".")[-1] == "nullcontext"
            and manager.args
        ):
            return self.kind(manager.args[0], scope)
        kind = self.kind(manager, scope)
        if kind is not None and kind.what == "flags":
            return kind._replace(certain=False)
        return None

    def imported(self, module: str, name: str) -> _Kind | None:
        return self.project.imported(module, name)

    def import_name(self, alias: ast.alias, scope: _Scope) -> None:
        if alias.asname:
            dotted = alias.name
            scope.bind(alias.asname, lambda: self.project.module_kind(dotted))
        else:
            head = alias.name.split(".")[0]
            scope.bind(head, lambda: _Kind("package", name=head))

    def assign(
        self, target: ast.expr, value: ast.expr, scope: _Scope, cls: dict[str, list[Callable[[], _Kind | None]]] | None
    ) -> None:  # fmt: skip
        if isinstance(target, (ast.Tuple, ast.List)):
            values = value.elts if isinstance(value, (ast.Tuple, ast.List)) else None
            for index, each in enumerate(target.elts):
                if values is not None and len(values) == len(target.elts):
                    self.assign(each, values[index], scope, cls)
                else:
                    self.store(each, lambda: None, scope, cls)
            return
        self.store(target, lambda: self.kind(value, scope), scope, cls)

    def store(
        self, target: ast.expr, thunk: Callable[[], _Kind | None], scope: _Scope,
        cls: dict[str, list[Callable[[], _Kind | None]]] | None,
    ) -> None:  # fmt: skip
        if isinstance(target, ast.Name):
            if cls is not None:
                cls.setdefault(target.id, []).append(thunk)
            else:
                scope.bind(target.id, thunk)
        elif (
            isinstance(target, ast.Attribute)
            and isinstance(target.value, ast.Name)
            and scope.owner is not None
            and target.value.id == scope.self_name
        ):
            scope.owner.attributes.setdefault(target.attr, []).append(thunk)
        elif isinstance(target, ast.Attribute):
            self.loose.setdefault(target.attr, []).append(thunk)
        elif isinstance(target, ast.Starred):
            self.store(target.value, lambda: None, scope, cls)

    def function(
        self, node: ast.FunctionDef | ast.AsyncFunctionDef, scope: _Scope, cls: _Class | None
    ) -> None:
        decorators = {
            _dotted(d.func if isinstance(d, ast.Call) else d) for d in node.decorator_list
        }
        is_method = cls is not None and not ({"staticmethod", "classmethod"} & decorators)
        inner = self.new_scope(scope, cls if is_method else None)
        self.scope_of[id(node)] = inner
        arguments = node.args
        every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
        for extra in (arguments.vararg, arguments.kwarg):
            if extra is not None:
                inner.bind(extra.arg, lambda: None)
        for index, argument in enumerate(every):
            if is_method and index == 0:
                inner.self_name = argument.arg
                inner.bind(argument.arg, _constant(_Kind("self", name=cls.ident if cls else "")))
                continue
            inner.bind(argument.arg, functools.partial(self.parameter, argument, inner))
        self.collect(node.body, inner, None)
        returns = [n.value for n in _returns(node.body) if n.value is not None]
        returned = node.returns

        def result() -> _Kind | None:
            kind = self.annotated(returned, scope) if returned is not None else None
            if kind is None:
                kind = _merge([self.kind(value, inner) for value in returns]) if returns else None
            if kind is None or kind.what != "flags":
                return None
            return kind._replace(what="factory")

        if cls is not None:
            is_property = any(d.split(".")[-1] in _PROPERTIES for d in decorators)
            cls.attributes.setdefault(node.name, []).append(
                functools.partial(_instance_of, result) if is_property else _constant(None)
            )
        else:
            scope.bind(node.name, result)
        if any(d.split(".")[-1] == "fixture" for d in decorators):
            self.fixtures.append((_fixture_name(node), result))

    def parameter(self, argument: ast.arg, scope: _Scope) -> _Kind | None:
        if argument.annotation is not None:
            return self.annotated(argument.annotation, scope.parent or scope)
        fixture = self.project.fixture_env.get(argument.arg)
        if fixture is not None:
            return fixture._replace(what="flags")
        # untyped code: a parameter named like a name bound to Flags elsewhere may hold one
        guess = self.project.names.get(argument.arg)
        return guess._replace(certain=False) if guess is not None else None

    # -- evaluating ----------------------------------------------------------------------

    def annotated(self, node: ast.expr | None, scope: _Scope) -> _Kind | None:
        """The kind of a value annotated with *node* (``Flags``, ``"Flags | None"``, ...)."""
        if node is None:
            return None
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            try:
                parsed = ast.parse(node.value, mode="eval").body
            except SyntaxError:
                return None
            return self.annotated(parsed, scope)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            return self.annotated(node.left, scope) or self.annotated(node.right, scope)
        if isinstance(node, ast.Subscript):
            outer = _dotted(node.value).split(".")[-1]
            parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            if outer in _SEQUENCES or outer in _MAPPINGS:
                index = 1 if outer in _MAPPINGS else 0
                found = self.annotated(parts[index], scope) if len(parts) > index else None
                if found is None or found.what != "flags":
                    return None
                return found._replace(what="mapping" if outer in _MAPPINGS else "items")
            if _dotted(node.value).split(".")[-1] in (
                "Optional",
                "Union",
                "Annotated",
                "Final",
                "ClassVar",
            ):
                inner = node.slice
                parts = inner.elts if isinstance(inner, ast.Tuple) else [inner]
                if _dotted(node.value).endswith("Annotated"):
                    parts = parts[:1]
                for part in parts:
                    found = self.annotated(part, scope)
                    if found is not None:
                        return found
            return None
        kind = self.kind(node, scope)
        if kind is not None and kind.what == "class":
            return kind._replace(what="flags")
        return None

    def kind(self, node: ast.expr, scope: _Scope) -> _Kind | None:
        """What *node* holds, evaluated in *scope* with the bindings of the last round."""
        if isinstance(node, ast.Name):
            return scope.lookup(node.id)
        if isinstance(node, ast.Attribute):
            return self.attribute(node, scope)
        if isinstance(node, ast.Call):
            callee = self.kind(node.func, scope)
            if callee is None:
                return self.call_kind(node, scope)
            if callee.what == "class":
                return callee._replace(what="flags")
            if callee.what == "helper":
                return _Kind("flags", (), callee.certain)
            if callee.what == "factory":
                return callee._replace(what="flags")
            return None
        if isinstance(node, ast.IfExp):
            return _merge([self.kind(node.body, scope), self.kind(node.orelse, scope)])
        if isinstance(node, ast.BoolOp):
            return _merge([self.kind(value, scope) for value in node.values])
        if isinstance(node, (ast.NamedExpr, ast.Await)):
            return self.kind(node.value, scope)
        if isinstance(node, ast.Subscript):
            container = self.kind(node.value, scope)
            if container is None or container.what not in ("items", "mapping"):
                return None
            sliced = container.what == "items" and isinstance(node.slice, ast.Slice)
            return container if sliced else container._replace(what="flags")
        return None

    def call_kind(self, node: ast.Call, scope: _Scope) -> _Kind | None:
        """Calls of functions that are not the project's: ``cast(Flags, x)``,
        ``list(fs)``, ``sorted(fs)``, ``mapping.get(key)``, ``mapping.values()``."""
        name = _dotted(node.func).split(".")[-1]
        if name == "cast" and node.args:
            return self.annotated(node.args[0], scope)
        if isinstance(node.func, ast.Name) and name in _COPIES and node.args:
            kind = self.kind(node.args[0], scope)
            return kind if kind is not None and kind.what == "items" else None
        if isinstance(node.func, ast.Attribute) and name in ("get", "values", "pop"):
            kind = self.kind(node.func.value, scope)
            if kind is not None and kind.what == "mapping":
                return kind._replace(what="items" if name == "values" else "flags")
        return None

    def attribute(self, node: ast.Attribute, scope: _Scope) -> _Kind | None:
        base = self.kind(node.value, scope)
        attr = node.attr
        shape = self.project.shape
        if base is None:
            guess = self.project.attributes.get(attr)
            return guess._replace(certain=False) if guess is not None else None
        if base.what == "flags":
            if (*base.path, attr) in shape.categories:
                return _Kind("flags", (*base.path, attr), base.certain)
            return None
        if base.what == "self":
            owner = self.project.classes.get(base.name)
            known, found = self.project.class_attribute(owner, attr) if owner else (False, None)
            if not known:
                # set by a mixin, or by a class not read: as for any object's attribute
                guess = self.project.attributes.get(attr)
                return guess._replace(certain=False) if guess is not None else None
            return found
        if base.what == "userclass":  # a class attribute: ``Holder.flags``
            owner = self.project.classes.get(base.name)
            known, found = self.project.class_attribute(owner, attr) if owner else (False, None)
            if known:
                return found
            guess = self.project.attributes.get(attr)
            return guess._replace(certain=False) if guess is not None else None
        if base.what == "module":
            return self.project.generated(base.name, attr)
        if base.what == "package":
            return self.project.exported(base.name, attr) or self.project.module_kind(
                f"{base.name}.{attr}"
            )
        return None

    # -- the rounds ------------------------------------------------------------------------

    def evaluate(self) -> bool:
        changed = False
        for scope in self.scopes:
            for name, thunks in scope.bindings.items():
                kind = _merge([thunk() for thunk in thunks])
                if scope.env.get(name) != kind:
                    changed = True
                    if kind is None:
                        scope.env.pop(name, None)
                    else:
                        scope.env[name] = kind
        for name, thunks in self.loose.items():
            kind = _merge([thunk() for thunk in thunks])
            if self.loose_env.get(name) != kind:
                changed = True
                if kind is None:
                    self.loose_env.pop(name, None)
                else:
                    self.loose_env[name] = kind
        for cls in self.classes:
            for name, thunks in cls.attributes.items():
                kind = _merge([thunk() for thunk in thunks])
                if cls.env.get(name) != kind:
                    changed = True
                    if kind is None:
                        cls.env.pop(name, None)
                    else:
                        cls.env[name] = kind
        return changed

    # -- finding the reads -------------------------------------------------------------------

    def uses(self, scan: list[Reference], unknown: list[Diagnostic]) -> None:
        self.walk(self.tree, self.top, scan, unknown)

    def walk(
        self, node: ast.AST, scope: _Scope, scan: list[Reference], unknown: list[Diagnostic]
    ) -> None:
        for child in ast.iter_child_nodes(node):
            inner = self.scope_of.get(id(child), scope)
            if isinstance(child, ast.Attribute) and isinstance(child.ctx, ast.Load):
                self.read(child, scope, scan, unknown)
            elif isinstance(child, ast.Call):
                self.call(child, scope, scan, unknown)
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                # decorators, defaults and annotations belong to the enclosing scope
                for outer in [*child.decorator_list, *_defaults(child.args)]:
                    self.walk_expression(outer, scope, scan, unknown)
                for statement in child.body:
                    self.walk_statement(statement, inner, scan, unknown)
                continue
            self.walk(child, inner, scan, unknown)

    def walk_expression(
        self, node: ast.expr, scope: _Scope, scan: list[Reference], unknown: list[Diagnostic]
    ) -> None:
        wrapper = ast.Expr(value=node)
        self.walk(wrapper, scope, scan, unknown)

    def walk_statement(
        self, node: ast.stmt, scope: _Scope, scan: list[Reference], unknown: list[Diagnostic]
    ) -> None:
        wrapper = ast.Module(body=[node], type_ignores=[])
        self.walk(wrapper, scope, scan, unknown)

    def read(
        self, node: ast.Attribute, scope: _Scope, scan: list[Reference], unknown: list[Diagnostic]
    ) -> None:
        base = self.kind(node.value, scope)
        # Flags.max_items, UiFlags.theme: a getter passed on unbound (to configgen.temporal's
        # workflow_flag, say) is read where it is called
        if base is None or base.what not in ("flags", "class"):
            return
        self.member(base, node.attr, node, scope, scan, unknown)

    def member(
        self, base: _Kind, attr: str, node: ast.AST, scope: _Scope,
        scan: list[Reference], unknown: list[Diagnostic], *, named: ast.AST | None = None,
    ) -> None:  # fmt: skip
        shape = self.project.shape
        key = shape.flags.get((*base.path, attr))
        if key is not None:
            scan.append(self.reference(key, node, named, keyword=False))
            return
        if (*base.path, attr) in shape.categories or attr.startswith("_"):
            return
        if not base.path and attr in FLAGS_MEMBERS:
            return
        if base.certain and base.path in shape.categories:
            owner = "Flags" if not base.path else "flags." + ".".join(base.path)
            hint = did_you_mean(attr, shape.members(base.path))
            line, col, _, _ = _span(node, named)
            unknown.append(
                Diagnostic(self.shown, line, col, "", f"{owner} has no flag '{attr}'{hint}")
            )

    def call(
        self, node: ast.Call, scope: _Scope, scan: list[Reference], unknown: list[Diagnostic]
    ) -> None:
        callee = self.kind(node.func, scope)
        if callee is not None and callee.what == "helper" and callee.name == "test_flags_with":
            keywords = self.project.shape.keywords
            for keyword in node.keywords:
                if keyword.arg is None:  # **{"name": ...}: constant keys count, others cannot
                    self.spread(keyword.value, scan)
                    continue
                key = keywords.get(keyword.arg)
                if key is not None:
                    scan.append(self.reference(key, keyword, None, keyword=True))
                elif callee.certain:
                    hint = did_you_mean(keyword.arg, sorted(keywords))
                    line, col, _, _ = _span(keyword, None)
                    unknown.append(Diagnostic(self.shown, line, col, "",
                                              f"test_flags_with() has no keyword '{keyword.arg}'{hint}"))  # fmt: skip
        if (
            isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "hasattr")
            and scope.lookup(node.func.id) is None
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            base = self.kind(node.args[0], scope)
            if base is not None and base.what == "flags":
                attr = node.args[1].value
                quiet = base._replace(certain=False) if node.func.id == "hasattr" else base
                self.member(quiet, attr, node, scope, scan, unknown, named=node.args[1])

    def spread(self, value: ast.expr, scan: list[Reference]) -> None:
        """The constant keys of ``test_flags_with(**{"name": value})``."""
        if not isinstance(value, ast.Dict):
            return
        keywords = self.project.shape.keywords
        for each in value.keys:
            if isinstance(each, ast.Constant) and isinstance(each.value, str):
                key = keywords.get(each.value)
                if key is not None:  # the name inside the quotes
                    line, col, end_line, end_col = _span(each, each)
                    inside = (col + 1, end_col - 1) if line == end_line else (col, end_col)
                    scan.append(Reference(key, self.path, self.shown, line, inside[0],
                                          end_line, inside[1], self.test, True))  # fmt: skip

    def reference(
        self, key: str, node: ast.AST, named: ast.AST | None, *, keyword: bool
    ) -> Reference:
        line, col, end_line, end_col = _span(node, named)
        return Reference(
            key, self.path, self.shown, line, col, end_line, end_col, self.test, keyword
        )


def _span(node: ast.AST, named: ast.AST | None) -> tuple[int, int, int, int]:
    """Where the name of a getter (or keyword) is: 1-based, the end column exclusive."""
    if named is not None:
        return (named.lineno, named.col_offset + 1,  # type: ignore[attr-defined]
                named.end_lineno or named.lineno,  # type: ignore[attr-defined]
                (named.end_col_offset or 0) + 1)  # type: ignore[attr-defined]  # fmt: skip
    if isinstance(node, ast.Attribute):
        end_line = node.end_lineno or node.lineno
        end_col = (node.end_col_offset or 0) + 1
        return end_line, end_col - len(node.attr), end_line, end_col
    if isinstance(node, ast.keyword) and node.arg is not None:
        return node.lineno, node.col_offset + 1, node.lineno, node.col_offset + 1 + len(node.arg)
    line = getattr(node, "lineno", 1)
    col = getattr(node, "col_offset", 0) + 1
    return (
        line,
        col,
        getattr(node, "end_lineno", line) or line,
        (getattr(node, "end_col_offset", 0) or 0) + 1,
    )


class _Project:
    def __init__(self, schema: FlagsSchema) -> None:
        self.shape = _Shape(schema)
        self.modules: dict[str, _Module] = {}  # by dotted name, for imports
        self.every: list[_Module] = []  # also those that share a name (two conftest.py)
        self.classes: dict[str, _Class] = {}
        self.fixtures: dict[str, list[Callable[[], _Kind | None]]] = {}
        self.fixture_env: dict[str, _Kind] = {}
        self.names: dict[str, _Kind] = {}
        self.attributes: dict[str, _Kind] = {}

    def add(self, module: _Module) -> None:
        """Take *module* in (a module read for an earlier scan starts afresh)."""
        module.project = self
        for scope in module.scopes:
            scope.env = {}
        for cls in module.classes:
            cls.env = {}
            self.classes[cls.ident] = cls
        for name, thunk in module.fixtures:
            self.fixtures.setdefault(name, []).append(thunk)
        self.modules.setdefault(module.name, module)
        self.every.append(module)

    def class_attribute(self, cls: _Class, attr: str, depth: int = 0) -> tuple[bool, _Kind | None]:
        """``self.attr`` in a method of *cls*: whether *cls* or a base class read here sets
        it, and what it holds."""
        if attr in cls.attributes:
            return True, cls.env.get(attr)
        if depth > _ROUNDS or cls.scope is None:
            return False, None
        for base in cls.bases:
            kind = cls.scope.module.kind(base, cls.scope)
            parent = self.classes.get(kind.name) if kind and kind.what == "userclass" else None
            if parent is not None:
                known, found = self.class_attribute(parent, attr, depth + 1)
                if known:
                    return known, found
        return False, None

    def module_kind(self, dotted: str) -> _Kind | None:
        last = dotted.rsplit(".", 1)[-1]
        if last == FLAGS_MODULE_NAME:
            return _Kind("module", name="flags")
        if last == TESTING_MODULE_NAME:
            return _Kind("module", name="testing")
        return _Kind("package", name=dotted)

    def generated(self, role: str, name: str) -> _Kind | None:
        if role == "flags":
            if name == "Flags":
                return _Kind("class", ())
            path = self.shape.classes.get(name)
            return _Kind("class", path) if path else None
        if role == "testing" and name in HELPERS:
            return _Kind("helper", name=name)
        return None

    def imported(self, module: str, name: str) -> _Kind | None:
        """``from module import name``."""
        last = module.rsplit(".", 1)[-1]
        if last in (FLAGS_MODULE_NAME, TESTING_MODULE_NAME):
            return self.generated("flags" if last == FLAGS_MODULE_NAME else "testing", name)
        if name in (FLAGS_MODULE_NAME, TESTING_MODULE_NAME):
            return self.module_kind(f"{module}.{name}")
        return self.exported(module, name)

    def exported(self, module: str, name: str) -> _Kind | None:
        found = self.modules.get(module)
        if found is None:
            return None
        if name not in found.top.bindings and f"{module}.{name}" in self.modules:
            return _Kind("package", name=f"{module}.{name}")
        return found.top.env.get(name)

    def run(self) -> None:
        for _ in range(_ROUNDS):
            changed = False
            for module in self.every:
                changed = module.evaluate() or changed
            changed = self.gather() or changed
            if not changed:
                break

    def gather(self) -> bool:
        """The project-wide guesses for untyped code: fixtures, names and attributes."""
        fixtures = {}
        for name, thunks in self.fixtures.items():
            kind = _merge([thunk() for thunk in thunks])
            if kind is not None:
                fixtures[name] = kind
        names: dict[str, _Kind] = {}
        for module in self.every:
            for scope in module.scopes:
                for name, kind in scope.env.items():
                    if kind.what == "flags":
                        names.setdefault(name, kind)
        attributes: dict[str, _Kind] = {}
        for module in self.every:
            for name, kind in module.loose_env.items():
                if kind.what == "flags":
                    attributes.setdefault(name, kind)
        for cls in self.classes.values():
            for name, kind in cls.env.items():
                if kind.what == "flags":
                    attributes.setdefault(name, kind)
        changed = (fixtures, names, attributes) != (self.fixture_env, self.names, self.attributes)
        self.fixture_env, self.names, self.attributes = fixtures, names, attributes
        return changed


class ModuleCache:
    """Python files read by earlier scans, by path and text: a scan after an edit of
    flags.toml, or of one Python file, parses and collects only what changed. A file that
    no longer parses (an editor's buffer half typed) is read as it last parsed."""

    def __init__(self) -> None:
        self.read: dict[Path, tuple[str, str, _Module | Diagnostic | None]] = {}
        self.good: dict[Path, _Module] = {}


def scan(
    schema: FlagsSchema,
    files: Iterable[Path],
    *,
    root: Path,
    texts: dict[Path, str] | None = None,
    cache: ModuleCache | None = None,
) -> Scan:
    """Every read of a flag of *schema* in *files* (paths shown relative to *root*).

    *texts* gives the text of files that are open in an editor, in place of what is on disk;
    *cache* keeps the files read, for the next scan.
    """
    project = _Project(schema)
    problems: list[Diagnostic] = []
    count = 0
    kept: dict[Path, tuple[str, str, _Module | Diagnostic | None]] = {}
    for path in files:
        shown = _shown(path, root)
        text = (texts or {}).get(path)
        if text is None:
            try:
                text = path.read_bytes().decode("utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                problems.append(
                    Diagnostic(shown, 1, 1, "", f"cannot read the file: {exc}; skipped")
                )
                continue
        before = cache.read.get(path) if cache is not None else None
        if before is not None and before[:2] == (shown, text):
            read = before[2]
        else:
            read = _read_module(project, path, shown, text)
        kept[path] = (shown, text, read)
        if isinstance(read, _Module) and cache is not None:
            cache.good[path] = read
        if isinstance(read, Diagnostic):
            last = cache.good.get(path) if cache is not None else None
            if last is None or last.shown != shown:
                problems.append(read)
                continue
            problems.append(read._replace(message=read.message.replace(
                "; skipped", "; its last version that parsed is read instead")))  # fmt: skip
            read = last
        if read is not None:
            count += 1
            project.add(read)
    if cache is not None:
        cache.read = kept
        cache.good = {path: module for path, module in cache.good.items() if path in kept}
    project.run()
    references: list[Reference] = []
    unknown: list[Diagnostic] = []
    for module in project.every:
        module.uses(references, unknown)
    references.sort(key=lambda r: (r.flag, r.shown, r.line, r.col))
    return Scan(references, sorted(set(unknown), key=_order), problems, count)


def _read_module(
    project: _Project, path: Path, shown: str, text: str
) -> _Module | Diagnostic | None:
    """The file parsed and its bindings collected; why not; or None for a generated module."""
    if text.startswith("# generated by configgen"):
        return None
    try:
        tree = ast.parse(text, filename=shown)
    except SyntaxError as exc:
        return Diagnostic(shown, exc.lineno or 1, exc.offset or 1, "",
                          f"not valid Python ({exc.msg}); skipped")  # fmt: skip
    except ValueError as exc:  # a NUL byte
        return Diagnostic(shown, 1, 1, "", f"not valid Python ({exc}); skipped")
    return _Module(project, path, shown, tree)


def _order(diagnostic: Diagnostic) -> tuple[str, int, int, str]:
    return diagnostic.path, diagnostic.line, diagnostic.col, diagnostic.message


def default_paths(settings: Settings) -> list[Path]:
    """The package and, when there is one, the project's ``tests`` folder."""
    paths = [settings.package]
    tests = settings.root / "tests"
    if tests.is_dir() and not _inside(tests, settings.package):
        paths.append(tests)
    return paths


def python_files(paths: Iterable[Path], settings: Settings | None = None) -> Iterator[Path]:
    """The ``.py`` files under *paths*, sorted, leaving out the generated modules and
    virtual environments, caches and build output."""
    generated = set(settings.outputs.values()) if settings is not None else set()
    for start in paths:
        if start.is_file():
            yield start
            continue
        for folder, dirs, names in os.walk(start):
            dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.startswith("."))
            for name in sorted(names):
                path = Path(folder) / name
                if name.endswith(".py") and path not in generated:
                    yield path


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def _shown(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _is_test_file(path: Path) -> bool:
    name = path.name
    if name == "conftest.py" or name.startswith("test_") or name.endswith("_test.py"):
        return True
    return any(part in ("tests", "test") for part in path.parts[:-1])


def _module_name(path: Path) -> tuple[str, str]:
    """The dotted module name of *path* (from the folders holding ``__init__.py``) and its
    package, for resolving relative imports."""
    parts = [] if path.name == "__init__.py" else [path.stem]
    folder = path.resolve().parent
    while (folder / "__init__.py").is_file() and folder.parent != folder:
        parts.insert(0, folder.name)
        folder = folder.parent
    name = ".".join(parts)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    return name, package


def _absolute(module: str | None, level: int, package: str) -> str:
    if not level:
        return module or ""
    parts = package.split(".") if package else []
    if level > 1:
        parts = parts[: len(parts) - (level - 1)]
    base = ".".join(parts)
    if module:
        return f"{base}.{module}" if base else module
    return base


_PROPERTIES = ("property", "cached_property")
_SEQUENCES = frozenset(
    {"list", "List", "Sequence", "MutableSequence", "Iterable", "Iterator", "Collection",
     "set", "Set", "frozenset", "FrozenSet", "AbstractSet", "MutableSet", "tuple", "Tuple",
     "deque", "Deque", "AsyncIterable", "AsyncIterator"}
)  # fmt: skip
_MAPPINGS = frozenset(
    {"dict", "Dict", "Mapping", "MutableMapping", "defaultdict", "DefaultDict", "OrderedDict"}
)
_COPIES = ("list", "tuple", "sorted", "reversed", "set", "frozenset", "iter")


def _instance_of(factory: Callable[[], _Kind | None]) -> _Kind | None:
    """What a property returns: a ``Flags`` when its getter returns one."""
    kind = factory()
    return kind._replace(what="flags") if kind is not None else None


def _constant(kind: _Kind | None) -> Callable[[], _Kind | None]:
    return lambda: kind


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _names(target: ast.AST) -> list[str]:
    return [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]


def _fixture_name(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    for decorator in node.decorator_list:
        if isinstance(decorator, ast.Call):
            for keyword in decorator.keywords:
                if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                    return str(keyword.value.value)
    return node.name


def _defaults(arguments: ast.arguments) -> list[ast.expr]:
    found: list[ast.expr] = [*arguments.defaults, *(d for d in arguments.kw_defaults if d)]
    return found


def _own_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """*node* and what it holds, but not the bodies of functions and classes inside it
    (those are scopes of their own; the def or class statement itself is yielded)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if isinstance(current, _SCOPES):
            continue
        stack.extend(reversed(list(ast.iter_child_nodes(current))))


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


def _returns(body: list[ast.stmt]) -> Iterator[ast.Return]:
    for statement in body:
        for node in _own_nodes(statement):
            if isinstance(node, ast.Return):
                yield node
