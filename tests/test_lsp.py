"""``configgen lsp`` under a real LSP client (pytest-lsp) that starts it as a subprocess:
diagnostics as ``configgen validate`` prints them, refreshed on change; unused flags faded;
hover; references; definitions; completion."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from tests.conftest import write_project

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

FLAGS = """\
[flags.new_checkout]
type = "bool"
default = false
description = "The new checkout flow"
users = ["alice"]
rollout = 10

[flags.ui.theme]
type = "enum"
values = ["light", "dark"]
default = "light"
"""
CONFIG = """\
[server]
# Where the service listens.
port = 8080  # validate: min=1,max=65535
host = "0.0.0.0"
"""
SERVICE = """\
from app.configgen_flags import EvaluationContext, Flags


def checkout(flags: Flags, user: str) -> str:
    if flags.new_checkout(EvaluationContext(user)):
        return flags.ui.theme()
    return "old"
"""


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=[sys.executable, "-m", "configgen", "lsp"]),
)
async def client(lsp_client: LanguageClient, project: Path) -> None:
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            root_uri=project.as_uri(),
        )
    )
    yield
    await lsp_client.shutdown_session()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = write_project(tmp_path / "proj", CONFIG, extra='flags = "flags.toml"\n')
    (root / "flags.toml").write_text(FLAGS, encoding="utf-8")
    (root / "src" / "app" / "__init__.py").write_text("", encoding="utf-8")
    (root / "src" / "app" / "service.py").write_text(SERVICE, encoding="utf-8")
    return root


def _open(client: LanguageClient, path: Path, text: str | None = None) -> str:
    uri = path.as_uri()
    language = "python" if path.suffix == ".py" else "toml"
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri,
                language_id=language,
                version=1,
                text=path.read_text(encoding="utf-8") if text is None else text,
            )
        )
    )
    return uri


def _change(client: LanguageClient, uri: str, text: str, version: int) -> None:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )


async def _until(
    client: LanguageClient, uri: str, check: Callable[[list[types.Diagnostic]], bool]
) -> list[types.Diagnostic]:
    """The diagnostics of *uri* once *check* holds for them (10 seconds at most)."""
    for _ in range(200):
        found = list(client.diagnostics.get(uri, []))
        if uri in client.diagnostics and check(found):
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"diagnostics of {uri} never matched: {client.diagnostics.get(uri)}")


def _validate(project: Path, name: str) -> list[tuple[int, int, str]]:
    """What ``configgen validate`` prints for the file: (line, col, message) with 0-based
    positions, as the protocol counts them."""
    result = subprocess.run(
        [sys.executable, "-m", "configgen", "validate", "--project", str(project)],
        capture_output=True,
        text=True,
        check=False,
    )
    found = []
    for line in result.stderr.splitlines():
        if line.startswith(f"{name}:"):
            _, row, col, message = line.split(":", 3)
            found.append((int(row) - 1, int(col) - 1, message.removeprefix(" ")))
    return found


def _shown(diagnostics: list[types.Diagnostic]) -> list[tuple[int, int, str]]:
    return sorted(
        (d.range.start.line, d.range.start.character, d.message)
        for d in diagnostics
        if d.source == "configgen"
    )


async def test_flags_diagnostics_are_validates_and_go_when_fixed(
    client: LanguageClient, project: Path
) -> None:
    broken = FLAGS.replace('default = "light"', 'default = "blue"').replace(
        "rollout = 10", "rollout = 120"
    )
    (project / "flags.toml").write_text(broken, encoding="utf-8")
    uri = _open(client, project / "flags.toml")
    diagnostics = await _until(client, uri, lambda found: len(found) >= 2)
    expected = _validate(project, "flags.toml")
    assert len(expected) == 2
    assert _shown(diagnostics) == expected  # the same messages, byte for byte, at the same places
    assert {d.severity for d in diagnostics} == {types.DiagnosticSeverity.Error}
    rollout = next(d for d in diagnostics if "rollout" in d.message)
    assert (rollout.range.start, rollout.range.end) == (
        types.Position(line=5, character=0),
        types.Position(line=5, character=7),
    )
    # fixed in the editor, not saved: no diagnostics, and nothing was written
    _change(client, uri, FLAGS, 2)
    await _until(client, uri, lambda found: found == [])
    assert (project / "flags.toml").read_text(encoding="utf-8") == broken


async def test_config_and_pyproject_diagnostics(client: LanguageClient, project: Path) -> None:
    (project / "config.toml").write_text(CONFIG.replace("port = 8080", "port = 0"))
    config = _open(client, project / "config.toml")
    diagnostics = await _until(client, config, lambda found: len(found) == 1)
    assert _shown(diagnostics) == _validate(project, "config.toml")
    assert diagnostics[0].message == "server.port: the default 0 is below min=1"
    _change(client, config, CONFIG, 2)
    await _until(client, config, lambda found: found == [])

    pyproject = project / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    pyproject.write_text(text.replace("env-prefix", "env_prefix"), encoding="utf-8")
    uri = _open(client, pyproject)
    diagnostics = await _until(client, uri, lambda found: len(found) == 1)
    assert _shown(diagnostics) == _validate(project, "pyproject.toml")
    assert diagnostics[0].message.startswith("tool.configgen.env_prefix: unknown setting")


async def test_unused_flags_are_faded_with_their_count(
    client: LanguageClient, project: Path
) -> None:
    with (project / "flags.toml").open("a", encoding="utf-8") as file:
        file.write('\n[flags.old_banner]\ntype = "bool"\ndefault = false\n')
    uri = _open(client, project / "flags.toml")
    [faded] = await _until(client, uri, lambda found: len(found) == 1)
    assert list(faded.tags or []) == [types.DiagnosticTag.Unnecessary]
    assert faded.severity == types.DiagnosticSeverity.Hint
    assert faded.message == "flag old_banner is never read (0 references in 2 Python files)"
    assert faded.range.start == types.Position(line=12, character=0)
    # a read typed in an open Python file counts before it is saved
    service = project / "src" / "app" / "service.py"
    python = _open(client, service)
    _change(client, python, SERVICE + "\n\nBANNER = Flags().old_banner()\n", 2)
    await _until(client, uri, lambda found: found == [])


async def test_hover(client: LanguageClient, project: Path) -> None:
    flags = _open(client, project / "flags.toml")
    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=flags),
            position=types.Position(line=4, character=2),  # users = [...] of new_checkout
        )
    )
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    text = hover.contents.value
    assert text.startswith("**flag `new_checkout`**: bool\n\nThe new checkout flow")
    assert "- default: `False`" in text
    assert "- true for: users alice; rollout 10% of other targeting keys" in text
    assert "- read in 1 place" in text and "`src/app/service.py:5:14`" in text

    config = _open(client, project / "config.toml")
    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=config),
            position=types.Position(line=2, character=1),
        )
    )
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    assert hover.contents.value.splitlines() == [
        "**`server.port`**: `int`",
        "",
        "Where the service listens.",
        "",
        "- default: `8080`",
        "- min: 1",
        "- max: 65535",
        "- environment variable: `APP_SERVER_PORT`",
    ]


async def test_references_and_definition(client: LanguageClient, project: Path) -> None:
    flags = _open(client, project / "flags.toml")
    service = project / "src" / "app" / "service.py"
    places = await client.text_document_references_async(
        types.ReferenceParams(
            text_document=types.TextDocumentIdentifier(uri=flags),
            position=types.Position(line=8, character=3),  # [flags.ui.theme]
            context=types.ReferenceContext(include_declaration=False),
        )
    )
    assert [(p.uri, p.range.start.line, p.range.start.character, p.range.end.character)
            for p in places or []] == [(service.as_uri(), 5, 24, 29)]  # fmt: skip
    python = _open(client, service)
    found = await client.text_document_definition_async(
        types.DefinitionParams(
            text_document=types.TextDocumentIdentifier(uri=python),
            position=types.Position(line=4, character=18),  # flags.new_checkout
        )
    )
    assert isinstance(found, types.Location)
    assert found.uri == (project / "flags.toml").as_uri()
    assert (found.range.start, found.range.end) == (
        types.Position(line=0, character=0),
        types.Position(line=0, character=20),
    )


async def test_unknown_getter_in_python(client: LanguageClient, project: Path) -> None:
    service = project / "src" / "app" / "service.py"
    uri = _open(client, service, SERVICE.replace("flags.ui.theme()", "flags.ui.them()"))
    [diagnostic] = await _until(client, uri, lambda found: len(found) == 1)
    assert diagnostic.message == "flags.ui has no flag 'them' (did you mean 'theme'?)"
    assert diagnostic.range.start == types.Position(line=5, character=24)


async def test_completion(client: LanguageClient, project: Path) -> None:
    text = FLAGS + '\n[flags.beta]\ntype = "bool"\nde\n'
    flags = _open(client, project / "flags.toml", text)
    found = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=flags),
            position=types.Position(line=15, character=2),
        )
    )
    assert isinstance(found, types.CompletionList)
    labels = [item.label for item in found.items]
    assert "default" in labels and "review-after" in labels and "type" not in labels

    config_text = CONFIG.replace('host = "0.0.0.0"', 'host = "0.0.0.0"  # ')
    config = _open(client, project / "config.toml", config_text)
    found = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=config),
            position=types.Position(line=3, character=len('host = "0.0.0.0"  # ')),
        )
    )
    assert isinstance(found, types.CompletionList)
    assert sorted(item.label for item in found.items) == [
        "env", "map", "required", "sensitive", "type", "validate",
    ]  # fmt: skip


async def test_columns_are_utf16_as_the_protocol_counts(
    client: LanguageClient, project: Path
) -> None:
    text = CONFIG + 'greeting = "\U0001f600"  # validate: mn=1\n'
    uri = _open(client, project / "config.toml", text)
    [diagnostic] = await _until(client, uri, lambda found: len(found) == 1)
    assert diagnostic.message.startswith("server.greeting: unknown rule 'mn' in validate")
    # validate says column 29 (characters); the emoji before it is two UTF-16 code units
    assert (project / "config.toml").read_text() == CONFIG
    assert diagnostic.range.start == types.Position(line=4, character=29)
    assert diagnostic.range.end == types.Position(line=4, character=31)  # "mn"


async def test_a_python_file_that_stops_parsing_keeps_its_reads(
    client: LanguageClient, project: Path
) -> None:
    """While a Python file is half typed, its last version that parsed still counts (no
    flag it reads is faded), and the syntax error is shown on the file."""
    (project / "src" / "app" / "__init__.py").unlink()
    with (project / "flags.toml").open("a", encoding="utf-8") as file:
        file.write('\n[flags.old-banner]\ntype = "bool"\ndefault = false\n')
    uri = _open(client, project / "flags.toml")
    [faded] = await _until(client, uri, lambda found: len(found) == 1)
    assert faded.message == "flag old-banner is never read (0 references in 1 Python file)"
    service = _open(client, project / "src" / "app" / "service.py")
    _change(client, service, SERVICE + "\n\ndef broken(:\n", 2)
    [error] = await _until(client, service, lambda found: len(found) == 1)
    assert error.message == (
        "not valid Python (invalid syntax); its last version that parsed is read instead"
    )
    assert error.severity == types.DiagnosticSeverity.Error
    assert error.range.start == types.Position(line=9, character=11)
    await asyncio.sleep(0.5)
    assert [d.message for d in client.diagnostics[uri]] == [faded.message]
    _change(client, service, SERVICE, 3)
    await _until(client, service, lambda found: found == [])


class _Published(dict[str, list[types.Diagnostic]]):
    """The client's diagnostics, remembering every publication."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[str] = []

    def __setitem__(self, uri: str, diagnostics: list[types.Diagnostic]) -> None:
        self.log.append(uri)
        super().__setitem__(uri, diagnostics)


async def test_a_burst_of_edits_is_analysed_once(client: LanguageClient, project: Path) -> None:
    uri = _open(client, project / "flags.toml", FLAGS.replace('"bool"', '"bol"'))
    await _until(client, uri, lambda found: len(found) == 1)
    published = _Published()
    client.diagnostics = published
    for version in range(2, 22):
        _change(client, uri, FLAGS.replace('"bool"', f'"bol{version}"'), version)
    [last] = await _until(client, uri, lambda found: "'bol21'" in str(found))
    assert "bol21" in last.message
    await asyncio.sleep(0.5)
    assert published.log.count(uri) < 5, published.log  # one per edit before: 20


async def test_diagnostics_cost_grows_with_the_file(client: LanguageClient, project: Path) -> None:
    """A publish once split the whole text for every diagnostic: quadratic in the number of
    flags, 8 seconds for 5,000 unused flags."""

    def flags(count: int) -> str:
        return "".join(f'[flags.f{i}]\ntype = "bool"\ndefault = false\n\n' for i in range(count))

    uri = _open(client, project / "flags.toml")
    seconds = []
    for version, count in enumerate((300, 5000), start=2):
        started = asyncio.get_running_loop().time()
        _change(client, uri, flags(count), version)
        await _until(client, uri, lambda found, count=count: len(found) == count)  # type: ignore[misc]
        seconds.append(asyncio.get_running_loop().time() - started)
    # 17 times the flags: linear, about 1.5 s and a ratio of 6 (the small file pays the
    # settling time too); quadratic, about 6 s and a ratio of 36
    assert seconds[1] / seconds[0] < 20, seconds
