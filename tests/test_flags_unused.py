"""``configgen flags unused``: reads found from the syntax tree, through every way a
`Flags` object reaches code; unknown getters; the example projects have no unused flag."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from configgen.flags_reader import read_flags
from configgen.references import scan
from tests.conftest import REPO, CLIResult, write_project

FLAGS = """\
[flags.new_checkout]
type = "bool"
default = false

[flags.via_alias]
type = "bool"
default = false

[flags.via_self]
type = "int"
default = 1

[flags.via_import]
type = "bool"
default = false

[flags.via_getattr]
type = "bool"
default = false

[flags.via_untyped]
type = "bool"
default = false

[flags.via_factory]
type = "bool"
default = false

[flags.via_dataclass]
type = "bool"
default = false

[flags.via_subclass]
type = "bool"
default = false

[flags.via_property]
type = "bool"
default = false

[flags.as_callback]
type = "percent"
default = 0

[flags.via_class]
type = "int"
default = 3

[flags.only_in_tests]
type = "bool"
default = false

[flags.only_keyword]
type = "bool"
default = false

[flags.never_used]
type = "bool"
default = false

[flags.ui.theme]
type = "enum"
values = ["light", "dark"]
default = "light"

[flags.ui.density]
type = "string"
default = "normal"

[flags.ui.unused_color]
type = "string"
default = "blue"

[flags.search.deep.ranker]
type = "bool"
default = false
"""

SOURCES = {
    "src/app/__init__.py": "",
    "src/app/service.py": """\
        from __future__ import annotations

        import dataclasses
        from typing import TYPE_CHECKING, Optional

        from app.configgen_flags import EvaluationContext, Flags

        if TYPE_CHECKING:
            from app.configgen_flags import UiFlags

        FLAGS = Flags()


        def make_flags() -> Flags:
            return Flags()


        class Checkout:
            def __init__(self, flags: Optional[Flags] = None) -> None:
                self.flags = flags or Flags()

            def run(self, ctx: EvaluationContext) -> int:
                if self.flags.new_checkout(ctx):
                    return self.flags.via_self()
                return 0


        @dataclasses.dataclass
        class Deps:
            flags: "Flags"

            def ranked(self) -> bool:
                return self.flags.search.deep.ranker()


        def theme(flags: Flags | None) -> str:
            assert flags is not None
            ui = flags.ui
            return ui.theme()


        def density(ui: "UiFlags") -> str:
            return ui.density()


        def alias(flags: Flags) -> bool:
            f = flags
            g = f
            return g.via_alias()


        def callbacks(flags: Flags, keys: list[EvaluationContext]) -> int:
            return sum(map(flags.as_callback, keys))


        def dynamic() -> bool:
            return bool(getattr(FLAGS, "via_getattr")())


        def factory() -> bool:
            return make_flags().via_factory()


        def deps(d: Deps) -> bool:
            return d.flags.via_dataclass()


        class Premium(Checkout):
            def upgraded(self) -> bool:
                return self.flags.via_subclass()


        class Shop:
            def __init__(self, flags: Flags) -> None:
                self._flags = flags

            @property
            def flags(self) -> Flags:
                return self._flags


        def shop(s: Shop) -> bool:
            return s.flags.via_property()


        # unbound getters, as configgen.temporal's workflow_flag(Flags.via_class, ctx) takes them
        UNBOUND = (Flags.via_class, UiFlags.density)
        """,
    "src/app/plain.py": """\
        # untyped code: a parameter named as a Flags object is elsewhere
        def handler(flags):
            return flags.via_untyped()


        class Other:
            def never_used(self):
                return True


        def decoy(other: Other) -> bool:
            # a method of the same name on another object is not a read
            return Other().never_used() and other.never_used()
        """,
    "src/app/other.py": """\
        from . import service
        from .service import FLAGS as F


        def imported() -> bool:
            return service.FLAGS.via_import() and F.new_chekout()
        """,
    "tests/conftest.py": """\
        import pytest

        from app.configgen_testing import test_flags_with


        @pytest.fixture
        def flags():
            return test_flags_with(only_in_tests=True)
        """,
    "tests/test_service.py": """\
        from app import configgen_testing


        def test_reads(flags) -> None:
            assert flags.only_in_tests()
            assert not flags.no_such_flag()


        def test_keyword() -> None:
            configgen_testing.test_flags_with(only_keyword=True, ui_theme="dark", bogus=1)
        """,
}


def _project(root: Path) -> Path:
    write_project(root, "[server]\nport = 1\n", extra='flags = "flags.toml"\n')
    (root / "flags.toml").write_text(FLAGS, encoding="utf-8")
    for name, text in SOURCES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def _line(root: Path, key: str) -> int:
    lines = (root / "flags.toml").read_text().splitlines()
    return lines.index(f"[flags.{key}]") + 1


def test_every_way_of_reading_is_found(tmp_path: Path, cli: Callable[..., CLIResult]) -> None:
    root = _project(tmp_path / "proj")
    assert cli("generate", "--project", root).code == 0
    result = cli("flags", "unused", "--project", root)
    assert result.code == 1
    assert result.out.splitlines() == [
        f"flags.toml:{_line(root, 'only_in_tests')}:1: warning: flag only_in_tests is used only "
        "by tests (2 places, first tests/conftest.py:8:28); no other code reads it",
        f"flags.toml:{_line(root, 'only_keyword')}:1: warning: flag only_keyword is used only "
        "by tests (1 place, first tests/test_service.py:10:39); no other code reads it",
        f"flags.toml:{_line(root, 'never_used')}:1: flag never_used is never read",
        f"flags.toml:{_line(root, 'ui.unused_color')}:1: flag ui.unused_color is never read",
        "src/app/other.py:6:45: Flags has no flag 'new_chekout' (did you mean 'new_checkout'?)",
        "tests/test_service.py:6:22: Flags has no flag 'no_such_flag'",
        "tests/test_service.py:10:75: test_flags_with() has no keyword 'bogus'",
    ]
    assert "20 references in 6 files; 5 problems" in result.err


def test_strict_counts_test_only_flags(tmp_path: Path, cli: Callable[..., CLIResult]) -> None:
    root = _project(tmp_path / "proj")
    (root / "flags.toml").write_text(
        '[flags.only_in_tests]\ntype = "bool"\ndefault = false\n', encoding="utf-8"
    )
    for name in (
        "src/app/other.py",
        "src/app/plain.py",
        "src/app/service.py",
        "tests/test_service.py",
    ):
        (root / name).unlink()
    result = cli("flags", "unused", "--project", root)
    assert result.code == 0
    assert "warning: flag only_in_tests is used only by tests" in result.out
    assert cli("flags", "unused", "--strict", "--project", root).code == 1


def test_given_paths_and_verbose(tmp_path: Path, cli: Callable[..., CLIResult]) -> None:
    root = _project(tmp_path / "proj")
    result = cli("flags", "unused", "--project", root, "-v", root / "src/app/service.py")
    assert "src/app/service.py:24:31: read of via_self\n" in result.out
    assert "flag via_import is never read" in result.out  # other.py was not given
    assert cli("flags", "unused", "--project", root, root / "nowhere").code == 2


def test_references_carry_exact_ranges(tmp_path: Path) -> None:
    root = _project(tmp_path / "proj")
    schema, _ = read_flags(root / "flags.toml", "flags.toml")
    assert schema is not None
    found = scan(schema, [root / "src/app/service.py"], root=root)
    [theme] = [r for r in found.references if r.flag == "ui.theme"]
    line = (root / "src/app/service.py").read_text().splitlines()[theme.line - 1]
    assert line[theme.col - 1 : theme.end_col - 1] == "theme"
    # an unsaved editor buffer takes the place of the file
    texts = {
        root / "src/app/service.py": "from app.configgen_flags import Flags\nFlags().ui.density()\n"
    }
    found = scan(schema, [root / "src/app/service.py"], root=root, texts=texts)
    assert [(r.flag, r.line, r.col, r.end_col) for r in found.references] == [
        ("ui.density", 2, 12, 19)
    ]


def test_files_that_do_not_parse_are_reported_and_skipped(
    tmp_path: Path, cli: Callable[..., CLIResult]
) -> None:
    root = _project(tmp_path / "proj")
    (root / "src/app/broken.py").write_text("def f(:\n", encoding="utf-8")
    result = cli("flags", "unused", "--project", root)
    assert "src/app/broken.py:1:7: not valid Python (invalid syntax); skipped" in result.err


@pytest.mark.parametrize("example", ["hatch-service", "setuptools-service"])
def test_no_unused_flag_in_the_examples(example: str, cli: Callable[..., CLIResult]) -> None:
    result = cli("flags", "unused", "--project", REPO / "examples" / example)
    assert (result.code, result.out) == (0, "")


def test_flag_positions_do_not_depend_on_memory_reuse(tmp_path: Path) -> None:
    """Positions are keyed by the identity of tomlkit's items: a table tomlkit merges away
    while parsing must not pass its place on to a later one (it once put a flag of
    [flags.ui.x] at the line of an unrelated flag, now and then)."""
    path = tmp_path / "flags.toml"
    path.write_text(FLAGS, encoding="utf-8")
    expected = FLAGS.splitlines().index("[flags.ui.unused_color]") + 1
    for _ in range(200):
        schema, _ = read_flags(path, "flags.toml")
        assert schema is not None
        [flag] = [f for f in schema.flags() if f.key == "ui.unused_color"]
        assert flag.line == expected


def test_modules_of_one_name_are_all_read(tmp_path: Path, cli: Callable[..., CLIResult]) -> None:
    """Two ``conftest.py`` (no ``__init__.py``) are both read, not the first only."""
    root = _project(tmp_path / "proj")
    (root / "flags.toml").write_text(
        '[flags.a]\ntype = "bool"\ndefault = false\n\n[flags.b]\ntype = "bool"\ndefault = false\n'
    )
    for name in ("src/app/other.py", "src/app/plain.py", "src/app/service.py",
                 "tests/test_service.py"):  # fmt: skip
        (root / name).unlink()
    reader = "from app.configgen_flags import Flags\n\nFLAGS = Flags()\nFLAGS.{}()\n"
    (root / "tests" / "conftest.py").write_text(reader.format("a"))
    (root / "tests" / "deep").mkdir()
    (root / "tests" / "deep" / "conftest.py").write_text(reader.format("b"))
    result = cli("flags", "unused", "--project", root)
    assert "flag a is used only by tests" in result.out
    assert "flag b is used only by tests" in result.out


def test_a_cache_gives_the_same_answers(tmp_path: Path) -> None:
    from configgen.references import ModuleCache, python_files

    root = _project(tmp_path / "proj")
    schema, _ = read_flags(root / "flags.toml", "flags.toml")
    assert schema is not None
    files = list(python_files([root / "src", root / "tests"]))
    cache = ModuleCache()
    plain = scan(schema, files, root=root)
    assert scan(schema, files, root=root, cache=cache) == plain
    assert scan(schema, files, root=root, cache=cache) == plain  # every module from the cache
    (root / "flags.toml").write_text(FLAGS.replace("[flags.via_self]", "[flags.via_selfie]"))
    smaller, _ = read_flags(root / "flags.toml", "flags.toml")
    assert smaller is not None
    again = scan(smaller, files, root=root, cache=cache)
    assert again == scan(smaller, files, root=root)
    assert (
        "src/app/service.py:24:31: Flags has no flag 'via_self' (did you mean 'via_selfie'?)"
        in [str(d) for d in again.unknown]
    )


REACHES = """\
[flags.by_star]
type = "bool"
default = false

[flags.by_subclass]
type = "bool"
default = false

[flags.by_cast]
type = "bool"
default = false

[flags.by_state]
type = "bool"
default = false

[flags.by_loop]
type = "bool"
default = false

[flags.by_comprehension]
type = "bool"
default = false

[flags.by_mapping]
type = "bool"
default = false

[flags.by_match]
type = "bool"
default = false

[flags.by_with]
type = "bool"
default = false

[flags.by_spread]
type = "bool"
default = false

[flags.by_class_attribute]
type = "bool"
default = false

[flags.ui.theme]
type = "bool"
default = false
"""
REACHING = {
    "src/app/__init__.py": "",
    "src/app/holder.py": """\
        from app.configgen_flags import Flags

        FLAGS = Flags()
        """,
    "src/app/sub/__init__.py": "",
    "src/app/sub/star.py": """\
        from ..holder import *


        def star() -> bool:
            return FLAGS.by_star()
        """,
    "src/app/ways.py": """\
        import contextlib
        from typing import Any, cast

        from app.configgen_flags import Flags


        class MyFlags(Flags):
            pass


        class Holder:
            flags = Flags()


        def held() -> bool:
            return Holder.flags.by_class_attribute()


        def subclass() -> bool:
            return MyFlags().by_subclass() and MyFlags().extra_method()


        def casting(x: Any) -> bool:
            return cast(Flags, x).by_cast()


        def state(app: Any) -> bool:
            app.state.feature_flags = Flags()
            return app.state.feature_flags.by_state()


        def loops(fs: list[Flags], named: dict[str, Flags]) -> list[bool]:
            for f in fs:
                f.by_loop()
            for _, g in named.items():
                g.no_such_getter()
            return [h.by_comprehension() for h in fs] + [named["a"].by_mapping()]


        def matching(x: object) -> bool:
            match x:
                case Flags() as m:
                    return m.by_match()
            return False


        def entering() -> bool:
            with contextlib.nullcontext(Flags()) as q:
                return q.by_with()
        """,
    "src/app/base.py": """\
        from app.configgen_flags import Flags


        class Handler:
            def setup(self, flags: Flags) -> None:
                self._flags = flags
        """,
    "src/app/sub/child.py": """\
        from app import base


        class Child(base.Handler):
            pass


        class Grandchild(Child):
            def go(self) -> bool:
                return self._flags.ui.theme() and self._flags.ui.nope()
        """,
    "tests/test_spread.py": """\
        from app.configgen_testing import test_flags_with


        def test_spread() -> None:
            test_flags_with(**{"by_spread": True})
        """,
}


def test_flags_reached_every_other_way(tmp_path: Path, cli: Callable[..., CLIResult]) -> None:
    """Star imports, subclasses of Flags, ``cast``, attributes of other objects, loops over
    annotated containers, ``match``, ``with``, ``self`` attributes set in a base class of
    another module, and constant keys of ``test_flags_with(**{...})``."""
    root = tmp_path / "proj"
    write_project(root, "[server]\nport = 1\n", extra='flags = "flags.toml"\n')
    (root / "flags.toml").write_text(REACHES, encoding="utf-8")
    for name, text in REACHING.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    assert cli("generate", "--project", root).code == 0
    result = cli("flags", "unused", "--project", root)
    lines = REACHES.splitlines()
    assert result.out.splitlines() == [
        f"flags.toml:{lines.index('[flags.by_spread]') + 1}:1: warning: flag by_spread is used "
        "only by tests (1 place, first tests/test_spread.py:5:25); no other code reads it",
        "src/app/sub/child.py:10:58: flags.ui has no flag 'nope'",
        "src/app/ways.py:36:11: Flags has no flag 'no_such_getter'",
    ], result.out
    assert result.code == 1  # the two unknown getters


def test_messages_name_flags_as_written_and_bad_flags_toml_is_a_usage_error(
    tmp_path: Path, cli: Callable[..., CLIResult]
) -> None:
    root = tmp_path / "proj"
    write_project(root, "[server]\nport = 1\n", extra='flags = "flags.toml"\n')
    (root / "flags.toml").write_text(
        '[flags.new-checkout]\ntype = "bool"\ndefault = false\n\n'
        '[flags.ui.dark-mode]\ntype = "bool"\ndefault = false\n',
        encoding="utf-8",
    )
    result = cli("flags", "unused", "--project", root)
    assert result.out.splitlines() == [
        "flags.toml:1:1: flag new-checkout is never read",
        "flags.toml:5:1: flag ui.dark-mode is never read",
    ]
    assert result.code == 1
    (root / "flags.toml").write_text('[flags.x]\ntype = "boo"\ndefault = false\n')
    result = cli("flags", "unused", "--project", root)
    assert result.code == 2
    assert "flags.toml:2:" in result.err
