"""What the language server knows about a document, without pygls: every answer comes from
the generator's own readers (`configgen.pipeline.validate_text`, `configgen.settings`) and
from `configgen.references`, over the texts the editor has open (unsaved edits included) and
the files on disk for the rest. Nothing is written.

Positions here are 0-based lines and columns counted in characters (Python string indices);
the server converts columns to the client's encoding (UTF-16 by default).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Literal, NamedTuple

from configgen import directives
from configgen.commands.unused import references_by_flag, unused_message, written_keys
from configgen.config_reader import parse_config
from configgen.diagnostics import Diagnostic
from configgen.flags_reader import FLAG_KEYS, SEGMENT_KEYS, expired, parse_flags
from configgen.model import FLAG_KINDS, ConfigSchema, Field, Flag, FlagsSchema, Section
from configgen.pipeline import validate_text
from configgen.references import (
    ModuleCache,
    Reference,
    Scan,
    default_paths,
    python_files,
    scan,
)
from configgen.settings import (
    Settings,
    SettingsError,
    build_requirement_problems,
    find_project,
    load_settings,
)
from configgen.toml_source import parse_source

Kind = Literal["pyproject", "config", "flags", "python"]
Level = Literal["error", "warning", "information", "hint"]
SOURCE = "configgen"
UNUSED_SOURCE = "configgen flags unused"
_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]*?)\s*\]\]?")
_BARE_KEY = re.compile(r"^\s*([A-Za-z0-9_-]*)$")


class Span(NamedTuple):
    """A range in a text: 0-based, in characters, the end exclusive."""

    line: int
    col: int
    end_line: int
    end_col: int

    def contains(self, line: int, col: int) -> bool:
        return (self.line, self.col) <= (line, col) <= (self.end_line, self.end_col)


class Finding(NamedTuple):
    """One diagnostic for a document."""

    span: Span
    message: str
    level: Level
    source: str = SOURCE
    unnecessary: bool = False


class Place(NamedTuple):
    """A range in a file."""

    path: Path
    span: Span


class Completion(NamedTuple):
    label: str
    insert: str
    detail: str
    kind: Literal["property", "keyword", "value"]


class _Context(NamedTuple):
    root: Path | None
    settings: Settings | None
    problems: list[Diagnostic]
    kind: Kind | None


def message_of(diagnostic: Diagnostic) -> str:
    """The text ``configgen validate`` prints for *diagnostic*, less its ``path:line:col: ``."""
    return str(diagnostic).removeprefix(f"{diagnostic.path}:{diagnostic.line}:{diagnostic.col}: ")


def token_span(lines: list[str], line: int, col: int) -> Span:
    """The range a diagnostic at 1-based *line*, *col* covers: the table header or key that
    starts there (to the end of the line for anything else)."""
    index = max(line - 1, 0)
    text = lines[index] if index < len(lines) else ""
    start = min(max(col - 1, 0), len(text))
    rest = text[start:]
    if rest.startswith("["):
        end = rest.find("]")
        length = end + (2 if rest.startswith("[[") else 1) if end >= 0 else len(rest.rstrip())
    else:
        found = re.match(r"[^\s=#]+", rest)
        length = found.end() if found else len(rest.rstrip())
    if length == 0:
        length = len(text) - start
    return Span(index, start, index, start + length)


class Workspace:
    """The open documents (path -> text) and the answers the server gives about them."""

    def __init__(self) -> None:
        self.texts: dict[Path, str] = {}
        self._scanned: tuple[object, Scan] | None = None
        self._modules = ModuleCache()
        self._parsed: tuple[tuple[str, str], tuple[FlagsSchema | None, list[Diagnostic]]] | None
        self._parsed = None

    # -- documents -----------------------------------------------------------------------

    def text(self, path: Path) -> str | None:
        if path in self.texts:
            return self.texts[path]
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def context(self, path: Path) -> _Context:
        """The project *path* belongs to, its settings, and what *path* is in it."""
        root = find_project(path.parent)
        if root is None and path.name == "pyproject.toml" and _claims(self.text(path) or ""):
            root = path.parent.resolve()
        if root is None:
            kind: Kind | None = None
            if path.name == "flags.toml":
                kind = "flags"
            elif path.name == "config.toml":
                kind = "config"
            return _Context(None, None, [], kind)
        pyproject = root / "pyproject.toml"
        try:
            settings: Settings | None = load_settings(
                root, pyproject_text=self.texts.get(pyproject)
            )
            problems: list[Diagnostic] = []
        except SettingsError as exc:
            settings, problems = None, exc.diagnostics
        resolved = path.resolve()
        if resolved == pyproject:
            return _Context(root, settings, problems, "pyproject")
        if settings is not None and resolved == settings.config:
            return _Context(root, settings, problems, "config")
        if settings is not None and resolved == (settings.flags or root / "flags.toml"):
            return _Context(root, settings, problems, "flags")
        if path.suffix == ".py":
            return _Context(root, settings, problems, "python")
        return _Context(root, settings, problems, None)

    def parse_flags(self, text: str, shown: str) -> tuple[FlagsSchema | None, list[Diagnostic]]:
        """`parse_flags`, kept for the last text: diagnostics, hover, references and
        completion after one edit of flags.toml parse it once (5,000 flags take a second)."""
        key = (text, shown)
        if self._parsed is None or self._parsed[0] != key:
            self._parsed = (key, parse_flags(text, shown))
        schema, problems = self._parsed[1]
        return schema, list(problems)

    def flags_schema(self, context: _Context) -> tuple[FlagsSchema | None, Path | None]:
        settings = context.settings
        if settings is None or settings.flags is None:
            return None, None
        text = self.text(settings.flags)
        if text is None:
            return None, settings.flags
        schema, _ = self.parse_flags(text, settings.shown(settings.flags))
        return schema, settings.flags

    def scan(self, context: _Context, schema: FlagsSchema) -> Scan:
        """The references of the project's flags; read again only when flags.toml, a Python
        file on disk or an open one has changed since the last time."""
        assert context.settings is not None and context.root is not None
        files = [
            f.resolve() for f in python_files(default_paths(context.settings), context.settings)
        ]
        texts = {path: text for path, text in self.texts.items() if path.suffix == ".py"}
        key = (schema, context.root, tuple(_stamp(f) for f in files), tuple(sorted(texts.items())))
        if self._scanned is not None and self._scanned[0] == key:
            return self._scanned[1]
        found = scan(schema, files, root=context.root, texts=texts, cache=self._modules)
        self._scanned = (key, found)
        return found

    # -- diagnostics ---------------------------------------------------------------------

    def diagnostics(self, path: Path) -> list[Finding]:
        """What ``configgen validate`` says of the document (byte for byte), plus unused
        flags (faded) in flags.toml and unknown getters in Python files."""
        context = self.context(path)
        text = self.text(path)
        if context.kind is None or text is None:
            return []
        lines = text.splitlines()
        if context.kind == "pyproject":
            found = list(context.problems)
            if context.root is not None and not found:
                found += build_requirement_problems(context.root, pyproject_text=text)
            return [_finding(lines, d) for d in found if d.path == "pyproject.toml"]
        if context.kind == "python":
            return self.python_diagnostics(context, path, lines)
        settings = context.settings
        shown = settings.shown(path.resolve()) if settings is not None else path.name
        prefix = settings.env_prefix if settings is not None else ""
        if context.kind == "config":
            return [_finding(lines, d) for d in validate_text(text, shown, prefix, flags=False)]
        # what validate_text(flags=True) says, from the one parse the other answers share
        schema, checked = self.parse_flags(text, shown)
        if schema is not None:
            checked += expired(
                schema, datetime.datetime.now(datetime.timezone.utc).date(), strict=False
            )
        findings = [_finding(lines, d) for d in checked]
        if schema is not None and settings is not None:
            findings += self.unused(context, schema, lines)
        return findings

    def unused(self, context: _Context, schema: FlagsSchema, lines: list[str]) -> list[Finding]:
        found = self.scan(context, schema)
        by_flag = references_by_flag(found.references)
        written = written_keys(schema, lines)
        findings = []
        for flag in schema.flags():
            references = by_flag.get(flag.key, [])
            message = unused_message(flag, references, written.get(flag.key, flag.key))
            if message is None:
                continue
            if not references:
                files = found.files
                message += f" (0 references in {files} Python file{'s' * (files != 1)})"
            span = token_span(lines, flag.line, flag.col)
            findings.append(Finding(span, message, "hint", UNUSED_SOURCE, unnecessary=True))
        return findings

    def python_diagnostics(self, context: _Context, path: Path, lines: list[str]) -> list[Finding]:
        schema, _ = self.flags_schema(context)
        if schema is None or not _inside_any(path, context):
            return []
        found = self.scan(context, schema)
        shown = _shown(path, context.root)
        return [
            Finding(token_span(lines, d.line, d.col), d.message, "error")
            for d in found.problems
            if d.path == shown
        ] + [
            Finding(token_span(lines, d.line, d.col), d.message, "warning")
            for d in found.unknown
            if d.path == shown
        ]

    # -- hover -----------------------------------------------------------------------------

    def hover(self, path: Path, line: int, col: int) -> str | None:
        """Markdown about the flag, segment or config key at the position, or None."""
        context = self.context(path)
        text = self.text(path)
        if text is None or context.kind is None:
            return None
        lines = text.splitlines()
        if context.kind == "flags":
            shown = context.settings.shown(path.resolve()) if context.settings else path.name
            schema, _ = self.parse_flags(text, shown)
            if schema is None:
                return None
            flag = _flag_at(schema, lines, line)
            if flag is None:
                return None
            references = self.scan(context, schema).references if context.settings else []
            return flag_hover(flag, [r for r in references if r.flag == flag.key])
        if context.kind == "config":
            prefix = context.settings.env_prefix if context.settings else ""
            config, _ = parse_config(text, path.name, prefix)
            return config_hover(config, line + 1) if config is not None else None
        if context.kind == "python":
            reference, schema = self.reference_at(context, path, line, col)
            if reference is None or schema is None:
                return None
            flag = next(f for f in schema.flags() if f.key == reference.flag)
            everyone = [r for r in self.scan(context, schema).references if r.flag == flag.key]
            return flag_hover(flag, everyone)
        return None

    # -- references and definitions --------------------------------------------------------

    def reference_at(
        self, context: _Context, path: Path, line: int, col: int
    ) -> tuple[Reference | None, FlagsSchema | None]:
        schema, _ = self.flags_schema(context)
        if schema is None:
            return None, None
        resolved = path.resolve()
        for reference in self.scan(context, schema).references:
            if reference.path == resolved and _span_of(reference).contains(line, col):
                return reference, schema
        return None, schema

    def references(self, path: Path, line: int, col: int, *, declaration: bool) -> list[Place]:
        """Where the flag at the position (in flags.toml or at a getter) is read."""
        context = self.context(path)
        schema, flags_path = self.flags_schema(context)
        if schema is None or flags_path is None:
            return []
        flag: Flag | None = None
        if context.kind == "flags":
            flag = _flag_at(schema, (self.text(path) or "").splitlines(), line)
        elif context.kind == "python":
            reference, _ = self.reference_at(context, path, line, col)
            flag = next((f for f in schema.flags() if reference and f.key == reference.flag), None)
        if flag is None:
            return []
        places = [
            Place(r.path, _span_of(r))
            for r in self.scan(context, schema).references
            if r.flag == flag.key
        ]
        if declaration:
            places.insert(0, self.flag_place(flags_path, flag))
        return places

    def definition(self, path: Path, line: int, col: int) -> Place | None:
        """The flag's table in flags.toml, from a getter or ``test_flags_with`` keyword."""
        context = self.context(path)
        if context.kind != "python":
            return None
        reference, schema = self.reference_at(context, path, line, col)
        _, flags_path = self.flags_schema(context)
        if reference is None or schema is None or flags_path is None:
            return None
        flag = next(f for f in schema.flags() if f.key == reference.flag)
        return self.flag_place(flags_path, flag)

    def flag_place(self, flags_path: Path, flag: Flag) -> Place:
        lines = (self.text(flags_path) or "").splitlines()
        return Place(flags_path, token_span(lines, flag.line, flag.col))

    # -- completion --------------------------------------------------------------------------

    def completion(self, path: Path, line: int, col: int) -> list[Completion]:
        """Keys of a flag or segment table and flag types in flags.toml; directive names
        and rules in the trailing comments of config.toml."""
        context = self.context(path)
        text = self.text(path)
        if text is None or context.kind not in ("flags", "config"):
            return []
        lines = text.splitlines()
        current = lines[line] if line < len(lines) else ""
        before = current[:col]
        if context.kind == "flags":
            return flags_completion(lines, line, before)
        return directive_completion(before)


# -- hover text ----------------------------------------------------------------------------


def flag_hover(flag: Flag, references: list[Reference]) -> str:
    """Markdown: the flag's type, default, description, targeting, lifetime and readers."""
    kind = flag.kind if flag.kind != "enum" else f"enum ({', '.join(flag.values)})"
    lines = [f"**flag `{flag.key}`**: {kind}", ""]
    if flag.description:
        lines += [flag.description, ""]
    lines.append(f"- default: `{flag.default!r}`")
    targeting = []
    if flag.users:
        targeting.append("users " + ", ".join(flag.users))
    if flag.segments:
        targeting.append("segments " + ", ".join(flag.segments))
    if flag.rollout is not None:
        targeting.append(f"rollout {flag.rollout:g}% of other targeting keys")
    if targeting:
        lines.append("- true for: " + "; ".join(targeting))
    if flag.expires is not None:
        lines.append(f"- expires: {flag.expires.isoformat()} (then the getter returns the default)")
    if flag.review_after is not None:
        lines.append(f"- review after: {flag.review_after.isoformat()}")
    if flag.permanent:
        lines.append("- permanent: never reported as stale")
    call = "ctx" if flag.kind == "percent" or flag.targeted else ""
    lines.append(f"- getter: `flags.{flag.key}({call})`; test keyword: "
                 f"`test_flags_with({'_'.join(flag.path)}=...)`")  # fmt: skip
    reads = [r for r in references if not r.keyword]
    keywords = [r for r in references if r.keyword]
    if not references:
        lines.append("- read nowhere (`configgen flags unused`)")
    else:
        lines.append(f"- read in {len(reads)} place{'s' * (len(reads) != 1)}"
                     + (f", set by {len(keywords)} test_flags_with call"
                        f"{'s' * (len(keywords) != 1)}" if keywords else ""))  # fmt: skip
        for reference in references[:10]:
            how = " (test_flags_with)" if reference.keyword else " (test)" if reference.test else ""
            lines.append(f"  - `{reference}`{how}")
        if len(references) > 10:
            lines.append(f"  - and {len(references) - 10} more")
    return "\n".join(lines)


def config_hover(config: ConfigSchema, line: int) -> str | None:
    """Markdown for the config key or table on 1-based *line*."""
    for section in _sections(config.root):
        for field in section.fields:
            if field.line == line:
                return field_hover(field)
        if section.path and section.line == line:
            return section_hover(section)
    return None


def field_hover(field: Field) -> str:
    default = "***" if field.sensitive else f"{field.default!r}"
    lines = [f"**`{field.dotted}`**: `{field.type.spelling}`", ""]
    if field.doc:
        lines += [field.doc, ""]
    lines.append(f"- default: `{default}`" if field.default is not None else "- no default")
    rules = field.rules
    if rules.min is not None:
        lines.append(f"- min: {rules.min}")
    if rules.max is not None:
        lines.append(f"- max: {rules.max}")
    if rules.pattern is not None:
        lines.append(f"- pattern: `{rules.pattern}`")
    if rules.oneof:
        lines.append(f"- one of: {', '.join(rules.oneof)}")
    if field.required:
        lines.append("- required: must come from a file or the environment")
    if field.sensitive:
        lines.append("- sensitive: shown as `***`")
    if field.env:
        lines.append(f"- environment variable: `{field.env}`")
    return "\n".join(lines)


def section_hover(section: Section) -> str:
    lines = [f"**`[{section.dotted}]`**: class `{section.class_name}`", ""]
    if section.doc:
        lines += [section.doc, ""]
    lines.append(f"- {len(section.fields)} keys, {len(section.sections)} tables")
    return "\n".join(lines)


# -- completion ------------------------------------------------------------------------------


def flags_completion(lines: list[str], line: int, before: str) -> list[Completion]:
    header = _header_above(lines, line)
    if header is None:
        return []
    table_keys = _keys_of_table(lines, line)
    if re.match(r"^\s*type\s*=\s*\"?[a-z]*$", before) and header.startswith("flags."):
        quoted = '"' not in before.split("=", 1)[1]
        return [
            Completion(kind, f'"{kind}"' if quoted else kind, "flag type", "value")
            for kind in FLAG_KINDS
        ]
    if re.search(r"^\s*segments\s*=\s*\[[^\]]*\"?[\w-]*$", before):
        names = sorted({h.split(".", 1)[1] for h in _headers(lines) if h.startswith("segments.")})
        quoted = not before.rstrip().endswith('"')
        return [Completion(n, f'"{n}"' if quoted else n, "segment", "value") for n in names]
    if _BARE_KEY.match(before) is None:
        return []
    if header.startswith("flags."):
        keys: Iterable[str] = FLAG_KEYS
        detail = "flag key"
    elif header.startswith("segments."):
        keys, detail = SEGMENT_KEYS, "segment key"
    else:
        return []
    return [
        Completion(key, f"{key} = ", detail, "property") for key in keys if key not in table_keys
    ]


def directive_completion(before: str) -> list[Completion]:
    comment = _trailing_comment(before)
    if comment is None:
        return []
    rules = re.search(r"validate\s*:\s*(?:[^,]*,\s*)*([A-Za-z]*)$", comment)
    if rules is not None:
        return [Completion(r, f"{r}=", "validate rule", "keyword") for r in directives.RULES]
    if re.search(r"type\s*:\s*\S*$", comment):
        hints = ("list[str]", "list[int]", "list[float]", "list[bool]", "dict[str, str]")
        return [Completion(h, h, "type hint", "value") for h in hints]
    if re.match(r"^\s*(?:[A-Za-z]+\s*,\s*)*[A-Za-z]*$", comment) is None:
        return []
    spelled = {"validate": "validate: ", "env": "env: ", "type": "type: "}
    return [
        Completion(name, spelled.get(name, name), "directive", "keyword")
        for name in directives.KNOWN
    ]


# -- helpers ----------------------------------------------------------------------------------


def _finding(lines: list[str], diagnostic: Diagnostic) -> Finding:
    level: Level = "error" if diagnostic.severity == "error" else "warning"
    return Finding(
        token_span(lines, diagnostic.line, diagnostic.col), message_of(diagnostic), level
    )


def _span_of(reference: Reference) -> Span:
    return Span(
        reference.line - 1, reference.col - 1, reference.end_line - 1, reference.end_col - 1
    )


def _flag_at(schema: FlagsSchema, lines: list[str], line: int) -> Flag | None:
    """The flag whose table holds 0-based *line*."""
    header_line = None
    for number in range(min(line, len(lines) - 1), -1, -1):
        if _HEADER.match(lines[number]):
            header_line = number + 1
            break
    if header_line is None:
        return None
    return next((f for f in schema.flags() if f.line == header_line), None)


def _headers(lines: list[str]) -> list[str]:
    found = []
    for text in lines:
        match = _HEADER.match(text)
        if match:
            found.append(re.sub(r"\s*\.\s*", ".", match.group(1)).replace('"', ""))
    return found


def _header_above(lines: list[str], line: int) -> str | None:
    for number in range(min(line, len(lines) - 1), -1, -1):
        match = _HEADER.match(lines[number])
        if match:
            return re.sub(r"\s*\.\s*", ".", match.group(1)).replace('"', "")
    return None


def _keys_of_table(lines: list[str], line: int) -> set[str]:
    """The keys already written in the table around 0-based *line* (not on it)."""
    keys = set()
    start = line - 1
    while start >= 0 and not _HEADER.match(lines[start]):
        start -= 1
    number = start + 1
    while number < len(lines) and not _HEADER.match(lines[number]):
        match = re.match(r"^\s*([A-Za-z0-9_-]+)\s*=", lines[number])
        if match and number != line:
            keys.add(match.group(1))
        number += 1
    return keys


def _trailing_comment(before: str) -> str | None:
    """The comment text after ``#`` on a line of config.toml, if the cursor is in one."""
    quote: str | None = None
    for index, char in enumerate(before):
        if quote is not None:
            if char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == "#":
            code = before[:index].strip()
            if not code:  # a whole-line comment is a docstring, not directives
                return None
            return before[index + 1 :]
    return None


def _sections(root: Section) -> list[Section]:
    return root.walk()


def _claims(text: str) -> bool:
    """Whether an unsaved pyproject.toml has ``[tool.configgen]``; one that is not valid TOML
    and mentions configgen counts, so that its errors are shown (as the command line does)."""
    if "configgen" not in text:
        return False
    source, _ = parse_source(text, "pyproject.toml")
    if source is None:
        return True
    tool = source.document.get("tool")
    return isinstance(tool, dict) and "configgen" in tool


def _stamp(path: Path) -> tuple[Path, int, int]:
    try:
        status = path.stat()
    except OSError:
        return path, -1, -1
    return path, status.st_mtime_ns, status.st_size


def _inside_any(path: Path, context: _Context) -> bool:
    if context.settings is None:
        return False
    resolved = path.resolve()
    for folder in default_paths(context.settings):
        try:
            resolved.relative_to(folder.resolve())
        except ValueError:
            continue
        return True
    return False


def _shown(path: Path, root: Path | None) -> str:
    if root is None:
        return path.as_posix()
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()
