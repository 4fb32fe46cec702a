"""The protocol side of ``configgen lsp``, with pygls: documents in, answers of
`configgen.lsp.analysis.Workspace` out, columns converted to the client's encoding."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path
from pygls.workspace import TextDocument

from configgen import __version__
from configgen.lsp.analysis import Completion, Finding, Place, Span, Workspace

logger = logging.getLogger(__name__)
SETTLE = 0.15
"""Seconds without a further edit before diagnostics are computed for an edit: while one
types, the versions a later edit has replaced are never analysed."""

_SEVERITY = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "information": types.DiagnosticSeverity.Information,
    "hint": types.DiagnosticSeverity.Hint,
}
_COMPLETION_KIND = {
    "property": types.CompletionItemKind.Property,
    "keyword": types.CompletionItemKind.Keyword,
    "value": types.CompletionItemKind.Value,
}


class ConfigGenServer(LanguageServer):
    """A pygls server over one `Workspace` of open documents."""

    def __init__(self) -> None:
        super().__init__("configgen", __version__)
        self.documents = Workspace()
        self.published: set[str] = set()
        self.edits = 0  # edits so far: a scheduled publish runs only if it is the last


server = ConfigGenServer()


def _path(uri: str) -> Path | None:
    path = to_fs_path(uri)
    return Path(path).resolve() if path else None


def _lines(ls: ConfigGenServer, path: Path) -> list[str]:
    return (ls.documents.text(path) or "").splitlines(keepends=True)


def _range(
    ls: ConfigGenServer, path: Path, span: Span, lines: list[str] | None = None
) -> types.Range:
    """*span* (columns in characters) in the client's position encoding; *lines* are the
    file's, when the caller has them (splitting the text for each of 5,000 diagnostics
    made a publish quadratic in the size of the file)."""
    codec = ls.workspace.position_codec
    plain = types.Range(
        start=types.Position(line=span.line, character=span.col),
        end=types.Position(line=span.end_line, character=span.end_col),
    )
    return codec.range_to_client_units(_lines(ls, path) if lines is None else lines, plain)


def _position(
    ls: ConfigGenServer, document: TextDocument, position: types.Position
) -> tuple[int, int]:
    """A client position as (line, character index)."""
    plain = document.position_codec.position_from_client_units(document.lines, position)
    return plain.line, plain.character


def _diagnostic(
    ls: ConfigGenServer, path: Path, finding: Finding, lines: list[str]
) -> types.Diagnostic:
    return types.Diagnostic(
        range=_range(ls, path, finding.span, lines),
        message=finding.message,
        severity=_SEVERITY[finding.level],
        source=finding.source,
        tags=[types.DiagnosticTag.Unnecessary] if finding.unnecessary else None,
    )


def publish(ls: ConfigGenServer) -> None:
    """Diagnostics for every open document: an edit of one file (pyproject.toml, flags.toml,
    a Python file) can change what the others are told."""
    for uri in list(ls.workspace.text_documents):
        path = _path(uri)
        if path is None:
            continue
        try:
            findings = ls.documents.diagnostics(path)
        except Exception:  # a bug must not take the editor's server down
            logger.exception("diagnostics of %s failed", path)
            continue
        if not findings and uri not in ls.published:
            continue
        lines = _lines(ls, path)
        diagnostics = [_diagnostic(ls, path, finding, lines) for finding in findings]
        ls.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics)
        )
        if diagnostics:
            ls.published.add(uri)
        else:
            ls.published.discard(uri)


def _remember(ls: ConfigGenServer, uri: str) -> None:
    path = _path(uri)
    if path is not None:
        ls.documents.texts[path] = ls.workspace.get_text_document(uri).source


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: ConfigGenServer, params: types.DidOpenTextDocumentParams) -> None:
    _remember(ls, params.text_document.uri)
    publish(ls)


def _settled(ls: ConfigGenServer, edit: int) -> None:
    if edit == ls.edits:  # no edit came since
        publish(ls)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: ConfigGenServer, params: types.DidChangeTextDocumentParams) -> None:
    """The text is taken at once (hover and the rest answer from it); diagnostics follow
    once edits pause for `SETTLE` seconds. Edits that arrive while diagnostics are being
    computed wait in the queue, and only the last of them is analysed."""
    _remember(ls, params.text_document.uri)
    ls.edits += 1
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # not under an event loop: at once
        publish(ls)
        return
    loop.call_later(SETTLE, _settled, ls, ls.edits)


@server.feature(types.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: ConfigGenServer, params: types.DidSaveTextDocumentParams) -> None:
    publish(ls)


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: ConfigGenServer, params: types.DidCloseTextDocumentParams) -> None:
    path = _path(params.text_document.uri)
    if path is not None:
        ls.documents.texts.pop(path, None)
    if params.text_document.uri in ls.published:
        ls.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[])
        )
        ls.published.discard(params.text_document.uri)
    publish(ls)


@server.feature(types.TEXT_DOCUMENT_HOVER)
def hover(ls: ConfigGenServer, params: types.HoverParams) -> types.Hover | None:
    path = _path(params.text_document.uri)
    if path is None:
        return None
    document = ls.workspace.get_text_document(params.text_document.uri)
    line, col = _position(ls, document, params.position)
    text = ls.documents.hover(path, line, col)
    if text is None:
        return None
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text))


def _location(ls: ConfigGenServer, place: Place) -> types.Location:
    uri = from_fs_path(str(place.path)) or place.path.as_uri()
    return types.Location(uri=uri, range=_range(ls, place.path, place.span))


@server.feature(types.TEXT_DOCUMENT_REFERENCES)
def references(ls: ConfigGenServer, params: types.ReferenceParams) -> list[types.Location]:
    path = _path(params.text_document.uri)
    if path is None:
        return []
    document = ls.workspace.get_text_document(params.text_document.uri)
    line, col = _position(ls, document, params.position)
    places = ls.documents.references(
        path, line, col, declaration=params.context.include_declaration
    )
    return [_location(ls, place) for place in places]


@server.feature(types.TEXT_DOCUMENT_DEFINITION)
def definition(ls: ConfigGenServer, params: types.DefinitionParams) -> types.Location | None:
    path = _path(params.text_document.uri)
    if path is None:
        return None
    document = ls.workspace.get_text_document(params.text_document.uri)
    line, col = _position(ls, document, params.position)
    place = ls.documents.definition(path, line, col)
    return _location(ls, place) if place is not None else None


@server.feature(
    types.TEXT_DOCUMENT_COMPLETION,
    types.CompletionOptions(trigger_characters=["#", ":", ",", " ", "[", '"']),
)
def completion(ls: ConfigGenServer, params: types.CompletionParams) -> types.CompletionList:
    path = _path(params.text_document.uri)
    items: list[Completion] = []
    if path is not None:
        document = ls.workspace.get_text_document(params.text_document.uri)
        line, col = _position(ls, document, params.position)
        items = ls.documents.completion(path, line, col)
    return types.CompletionList(
        is_incomplete=False,
        items=[
            types.CompletionItem(
                label=item.label,
                insert_text=item.insert,
                detail=item.detail,
                kind=_COMPLETION_KIND[item.kind],
            )
            for item in items
        ],
    )


def serve() -> None:
    """Speak the protocol on standard input and output."""
    server.start_io()
