"""Names: what a TOML key may become in Python, and the names the generated modules keep.

One place owns the identifier rules and the names each generated module defines or
reads, so that no user name can shadow one. ``tests/test_naming.py`` parses every
golden module and checks that these lists still cover what the templates write.
"""

from __future__ import annotations

import builtins
import keyword
import re

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

# The public names of each generated module (its __all__, besides the generated classes).
CONFIG_PUBLIC = ("CONFIG_FILE_ENV", "ConfigError", "ConfigProblem", "default_config", "load_config")
FLAGS_PUBLIC = (
    "CompositeStore",
    "DEFAULT_FLAG_VALUES",
    "EvaluationContext",
    "FileStore",
    "FlagStore",
    "Flags",
    "MemoryStore",
)
TESTING_PUBLIC = ("test_config", "test_flags", "test_flags_with")

# Top-level names of configgen_config.py besides the section classes (underscored
# helpers are left out: a user name never starts with '_' where it becomes a module name).
CONFIG_MODULE_NAMES = frozenset(CONFIG_PUBLIC) | frozenset(
    {
        "Any",
        "Callable",
        "Config",
        "Mapping",
        "MappingProxyType",
        "NamedTuple",
        "annotations",
        "dataclasses",
        "datetime",
        "importlib",
        "math",
        "os",
        "re",
        "sys",
    }
)
# Top-level names of configgen_flags.py besides the category classes and enum aliases.
FLAGS_MODULE_NAMES = frozenset(FLAGS_PUBLIC) | frozenset(
    {
        "Any",
        "Callable",
        "Literal",
        "Mapping",
        "NamedTuple",
        "Protocol",
        "annotations",
        "dataclasses",
        "functools",
        "importlib",
        "logger",
        "logging",
        "math",
        "os",
        "stat",
        "struct",
        "sys",
        "threading",
        "time",
        "types",
        "weakref",
    }
)
# Top-level names of configgen_testing.py besides those it imports from the other two.
TESTING_MODULE_NAMES = frozenset(TESTING_PUBLIC) | frozenset(
    {"Any", "Callable", "Mapping", "TypeVar", "annotations", "dataclasses", "datetime"}
)
# What a generated class or type alias may not be named: the testing module imports
# the config classes and the enum aliases beside each module's own names.
# Builtins too: a table [value_error] made a class ValueError that `raise ValueError` found.
TYPE_NAMES_TAKEN = (
    CONFIG_MODULE_NAMES
    | FLAGS_MODULE_NAMES
    | TESTING_MODULE_NAMES
    | frozenset(name for name in dir(builtins) if name[:1].isupper())
)
# Names read inside the body of a generated section class: a field of the same name
# would shadow them there.
SECTION_BODY_NAMES = frozenset(
    {
        "Any",
        "Callable",
        "Mapping",
        "MappingProxyType",
        "bool",
        "dataclasses",
        "datetime",
        "dict",
        "float",
        "int",
        "list",
        "object",
        "property",
        "str",
        "tuple",
        "typing",
    }
)
# Names read inside the bodies of Flags and the category classes, and the members
# Flags defines: a getter or category of the same name would shadow them.
FLAGS_BODY_NAMES = frozenset(
    {
        "Any",
        "Callable",
        "EvaluationContext",
        "Exception",
        "FlagStore",
        "Flags",
        "Mapping",
        "bool",
        "dict",
        "float",
        "int",
        "object",
        "property",
        "str",
        "tuple",
    }
)
FLAGS_MEMBERS = frozenset({"fallbacks", "refresh", "store"})
# Names read in test_config()'s body, whose keywords are the root keys of config.toml,
# and in test_flags_with()'s, whose keywords are the flags' dotted keys with '_'.
TEST_CONFIG_LOCALS = frozenset({"Any", "changes", "dataclasses", "default_config", "given"})
TEST_FLAGS_LOCALS = frozenset({"Flags", "MemoryStore", "given"})


def class_name_for(path: tuple[str, ...]) -> str:
    """``("server", "tls")`` -> ``ServerTls``; ``("http-client",)`` -> ``HttpClient``."""
    words = [word for part in path for word in re.split(r"[_\-]+", part) if word]
    return "".join(word[:1].upper() + word[1:] for word in words)


def attribute_name(key: str) -> str:
    """The Python name of a TOML key: ``-`` becomes ``_``."""
    return key.replace("-", "_")


def identifier_problem(key: str) -> str | None:
    """Why *key* cannot become a Python name (after ``-`` -> ``_``), or None."""
    name = attribute_name(key)
    if not IDENTIFIER.match(name):
        return (
            f"'{key}' is not a valid Python identifier (after '-' -> '_': '{name}'); "
            "use letters, digits, '_' and '-', not starting with a digit"
        )
    if keyword.iskeyword(name):
        return f"'{key}' is a Python keyword; rename it (e.g. '{name}_')"
    return None


def is_class_name(name: str) -> bool:
    """Whether *name* can name a generated class."""
    return IDENTIFIER.match(name) is not None and not keyword.iskeyword(name)
