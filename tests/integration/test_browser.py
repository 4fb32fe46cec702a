"""The operator UI in a real headless Chromium, against a real ``configgen serve`` process."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.serving import (
    PASSWORDS,
    XSS_DESCRIPTION,
    Served,
    add_token,
    audit,
    cli,
    make_project,
    put,
    store_url,
)

pytestmark = pytest.mark.integration
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
SCREENSHOT = Path("/tmp/configgen-ui.png")
XSS_VALUE = "<img src=x onerror=alert('value')><script>alert('stored')</script>"
LIVE = 10_000  # ms: the page polls every 3 s


def _missing(message: str) -> None:
    """A missing browser fails the test in CI and skips it elsewhere (as tests/servers.py)."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        _missing("chromium is not installed (apt-get install -y chromium)")
    assert found is not None
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (the 'test' dependency group)")
    executable = _chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=BROWSER_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(tmp_path_factory.mktemp("browser"))


@pytest.fixture(scope="module")
def token(project: Path) -> str:
    return add_token(project, "bot")


@pytest.fixture
def served(project: Path, tmp_path: Path) -> Iterator[Served]:
    """A server over a fresh overrides file: each test starts from the defaults."""
    server = Served(project, store_url("file", tmp_path), tmp_path / "serve.log").start()
    yield server
    server.stop()


class Watched:
    """A page, with every dialog, console message and page error it raised."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.dialogs: list[str] = []
        self.console: list[str] = []
        self.errors: list[str] = []
        page.on("dialog", self._dialog)
        page.on("console", lambda message: self.console.append(message.text))
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()


@pytest.fixture
def open_page(browser: Any, served: Served) -> Iterator[Any]:
    contexts = []

    def make(user: str | None = None) -> Watched:
        context = browser.new_context(base_url=served.url)
        context.set_default_timeout(15_000)
        contexts.append(context)
        watched = Watched(context.new_page())
        if user is not None:
            _login(watched.page, user)
        return watched

    yield make
    for context in contexts:
        context.close()


def _login(page: Any, user: str) -> None:
    from playwright.sync_api import expect

    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next=%2F$"))
    page.get_by_label("Name").fill(user)
    page.get_by_label("Password").fill(PASSWORDS[user])
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("header .who")).to_contain_text(user)
    expect(page.get_by_role("heading", name="Flags")).to_be_visible()


def _row(page: Any, key: str) -> Any:
    return page.locator(f'tr[data-flag="{key}"]')


def _confirm(page: Any, key: str, old: str, new: str, note: str) -> None:
    """On the confirmation page: check old -> new, write the note, confirm."""
    from playwright.sync_api import expect

    expect(page.get_by_role("heading", name=f"Change {key}?")).to_be_visible()
    expect(page.locator(".change .old")).to_have_text(old)
    expect(page.locator(".change .new")).to_have_text(new)
    page.get_by_label("Note (why)").fill(note)
    page.get_by_role("button", name="Confirm").click()


def _etag_in(page: Any, key: str) -> str:
    """The flag's ETag, read by the page itself."""
    etag: str = page.evaluate(
        "(key) => fetch('/api/v1/flags/' + key).then((r) => r.headers.get('etag'))", key
    )
    return etag


def _api_value(served: Served, token: str, key: str) -> Any:
    with served.client(token) as client:
        return client.get(f"/api/v1/flags/{key}").json()["value"]


def test_an_editor_toggles_a_bool_with_a_confirmation_and_a_note(
    open_page: Any, served: Served, token: str
) -> None:
    from playwright.sync_api import expect

    watched = open_page("eddie")
    page = watched.page
    row = _row(page, "new_checkout")
    expect(row.locator("[data-value]")).to_have_text("false")
    expect(row.locator("[data-source]")).to_have_text("default")
    row.get_by_role("button", name="Turn on").click()
    _confirm(page, "new_checkout", "false (default)", "true", "launch day")
    expect(page).to_have_url(re.compile(r"/flags/new_checkout\?done=1$"))
    expect(page.get_by_role("status")).to_have_text("Saved.")
    value = page.locator('dd[data-flag="new_checkout"]')
    expect(value.locator("[data-value]")).to_have_text("true")
    expect(value.locator("[data-source]")).to_have_text("store")
    entry = page.locator("table.history tr.entry")
    expect(entry).to_have_count(1)
    expect(entry.locator("td")).to_have_text(
        [re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"), "eddie", "ui", "new_checkout",
         "default → true", "launch day"]
    )  # fmt: skip
    assert _api_value(served, token, "new_checkout") is True

    page.get_by_role("link", name="History").click()
    expect(page.get_by_role("heading", name="History")).to_be_visible()
    expect(page.locator("table.history tr.entry")).to_have_count(1)
    expect(page.locator("table.history tr.entry td.note")).to_have_text("launch day")

    page.get_by_role("link", name="Flags", exact=True).click()
    row = _row(page, "new_checkout")
    expect(row.locator("[data-value]")).to_have_text("true")
    expect(row.get_by_role("button", name="Turn off")).to_be_visible()
    page.set_viewport_size({"width": 1280, "height": 800})
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert watched.dialogs == [] and watched.errors == []


def test_an_editor_changes_an_enum_and_an_int(open_page: Any, served: Served, token: str) -> None:
    from playwright.sync_api import expect

    page = open_page("eddie").page
    row = _row(page, "ui.theme")
    row.get_by_label("new value of ui.theme").select_option("dark")
    row.get_by_role("button", name="Change…").click()
    _confirm(page, "ui.theme", "light (default)", "dark", "darker")
    expect(page.get_by_role("status")).to_have_text("Saved.")
    expect(page.locator('dd[data-flag="ui.theme"] [data-value]')).to_have_text("dark")
    expect(page.get_by_label("new value of ui.theme")).to_have_value("dark")

    page.goto("/flags/max_items")
    number = page.get_by_label("new value of max_items")
    expect(number).to_have_attribute("type", "number")
    expect(number).to_have_value("50")
    number.fill("75")
    page.get_by_role("button", name="Change…").click()
    _confirm(page, "max_items", "50 (default)", "75", "more for the sale")
    expect(page.locator('dd[data-flag="max_items"] [data-value]')).to_have_text("75")
    expect(page.locator("table.history tr.entry td.note")).to_have_text(["more for the sale"])

    page.goto("/audit")
    entries = page.locator("table.history tr.entry")
    expect(entries).to_have_count(2)
    expect(entries.nth(0)).to_contain_text("max_items")  # newest first
    expect(entries.nth(0)).to_contain_text("default → 75")
    expect(entries.nth(1)).to_contain_text("ui.theme")
    expect(entries.nth(1)).to_contain_text("default → dark")
    assert _api_value(served, token, "ui.theme") == "dark"
    assert _api_value(served, token, "max_items") == 75


def test_a_viewer_cannot_change_anything(open_page: Any, served: Served, token: str) -> None:
    from playwright.sync_api import expect

    page = open_page("vera").page
    expect(page.locator("header .role")).to_have_text("viewer")
    expect(page.locator("table.flags tbody tr")).to_have_count(6)
    expect(page.locator("main button")).to_have_count(0)
    expect(page.locator("main form")).to_have_count(0)
    page.goto("/flags/new_checkout")
    expect(page.locator("main button")).to_have_count(0)
    expect(page.get_by_role("heading", name="Change")).to_have_count(0)
    # forged requests from the page itself, with the session's own CSRF token
    csrf = page.locator('header input[name="csrf"]').input_value()
    etag = _etag_in(page, "new_checkout")
    statuses = page.evaluate(
        """async ([csrf, etag]) => {
            const form = {csrf, expected: etag, action: "set", value: "true", note: "forged"};
            const post = (path) => fetch(path, {method: "POST", body: new URLSearchParams(form)});
            const put = fetch("/api/v1/flags/new_checkout", {
                method: "PUT", body: JSON.stringify({value: true}),
                headers: {"content-type": "application/json", "if-match": etag, "x-csrf-token": csrf},
            });
            return [
                (await post("/flags/new_checkout/preview")).status,
                (await post("/flags/new_checkout")).status,
                (await put).status,
            ];
        }""",
        [csrf, etag],
    )
    assert statuses == [403, 403, 403]
    assert _api_value(served, token, "new_checkout") is False
    with served.client(token) as client:
        assert audit(client, "new_checkout") == []


def test_a_stale_page_is_refused(open_page: Any, served: Served, token: str) -> None:
    from playwright.sync_api import expect

    page = open_page("eddie").page
    page.goto("/flags/max_items")
    expect(page.get_by_label("new value of max_items")).to_have_value("50")
    # meanwhile, someone else sets it from the command line
    cli(served.root, "set", "max_items", "60", "--note", "meanwhile", store=served.store)
    page.get_by_label("new value of max_items").fill("75")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Change…").click()  # refused before the confirmation
    assert posted.value.status == 409
    expect(page.get_by_role("heading", name="max_items changed meanwhile")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("nothing was written")
    expect(page.locator("main .value")).to_have_text("60")
    assert _api_value(served, token, "max_items") == 60
    with served.client(token) as client:
        assert [(e["new"], e["note"], e["channel"]) for e in audit(client, "max_items")] == [
            (60, "meanwhile", "cli")
        ]


def test_the_editor_form_without_its_csrf_token_is_refused(
    open_page: Any, served: Served, token: str
) -> None:
    page = open_page("eddie").page
    etag = _etag_in(page, "new_checkout")
    status = page.evaluate(
        """async (etag) => (await fetch("/flags/new_checkout", {method: "POST",
               body: new URLSearchParams({expected: etag, action: "set", value: "true"})})).status""",
        etag,
    )
    assert status == 403
    assert _api_value(served, token, "new_checkout") is False


def test_descriptions_and_stored_values_are_shown_as_text(
    open_page: Any, served: Served, token: str
) -> None:
    from playwright.sync_api import expect

    with served.client(token) as client:
        assert put(client, "banner", XSS_VALUE).status_code == 200
    watched = open_page("vera")
    page = watched.page
    row = _row(page, "banner")
    expect(row.locator(".description")).to_have_text(XSS_DESCRIPTION)
    expect(row.locator("[data-value]")).to_have_text(XSS_VALUE)
    page.goto("/flags/banner")
    expect(page.locator("dd.description")).to_have_text(XSS_DESCRIPTION)
    expect(page.locator('dd[data-flag="banner"] [data-value]')).to_have_text(XSS_VALUE)
    expect(page.locator("table.history td .new")).to_have_text(XSS_VALUE)
    page.goto("/audit")
    expect(page.locator("table.history td .new")).to_have_text(XSS_VALUE)
    with page.expect_response("**/api/v1/flags"):  # its first poll
        page.goto("/")
    # a value that arrives through the live update is shown as text too
    with served.client(token) as client:
        assert put(client, "banner", XSS_VALUE + " again").status_code == 200
    expect(row.locator("[data-value]")).to_have_text(XSS_VALUE + " again", timeout=LIVE)
    # only the page's own script; no element made from the text
    assert page.evaluate("() => [...document.scripts].map(s => s.getAttribute('src'))") == [
        f"{served.url}/static/app.js"
    ]
    assert page.locator("main img").count() == 0
    assert watched.dialogs == []
    # escaped, so nothing even tried to run (the CSP would report each attempt)
    assert not [text for text in watched.console if "Content Security Policy" in text]


def test_the_content_security_policy_blocks_inline_scripts(open_page: Any) -> None:
    watched = open_page("vera")
    page = watched.page
    response = page.goto("/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.evaluate(
        """() => {
            window.seen = [];
            document.addEventListener("securitypolicyviolation",
                (event) => window.seen.push(event.violatedDirective));
            const script = document.createElement("script");
            script.textContent = "window.inlineRan = true; alert('inline')";
            document.body.appendChild(script);
            const holder = document.createElement("div");
            holder.innerHTML = "<img src='/static/none.png' onerror=\\"window.handlerRan = true\\">";
            document.body.appendChild(holder);
        }"""
    )
    page.wait_for_function("() => window.seen.length >= 2")
    assert sorted(page.evaluate("() => window.seen")) == ["script-src-attr", "script-src-elem"]
    assert page.evaluate("() => [window.inlineRan, window.handlerRan]") == [None, None]
    assert watched.dialogs == []


def test_values_update_live_when_another_process_changes_the_store(
    open_page: Any, served: Served
) -> None:
    from playwright.sync_api import expect

    page = open_page("eddie").page
    with page.expect_response("**/api/v1/flags"):  # its first poll
        page.reload()
    row = _row(page, "max_items")
    expect(row.locator("[data-value]")).to_have_text("50")
    cli(served.root, "set", "max_items", "99", store=served.store)
    expect(row.locator("[data-value]")).to_have_text("99", timeout=LIVE)
    expect(row.locator("[data-source]")).to_have_text("store")
    # its form carries the old ETag: disabled until a reload
    expect(row.get_by_role("button", name="Change…")).to_be_disabled()
    expect(_row(page, "ui.theme").get_by_role("button", name="Change…")).to_be_enabled()
    cli(served.root, "delete", "max_items", store=served.store)
    expect(row.locator("[data-value]")).to_have_text("50", timeout=LIVE)
    expect(row.locator("[data-source]")).to_have_text("default")


def test_a_change_made_before_the_first_poll_is_shown(
    open_page: Any, served: Served, token: str
) -> None:
    """The page is rendered, then the flag changes before its first poll has answered."""
    from playwright.sync_api import expect

    page = open_page("eddie").page
    held: list[Any] = []
    released = False

    def hold(route: Any) -> None:
        if released:
            route.continue_()
        else:
            held.append(route)

    page.route("**/api/v1/flags", hold)
    page.reload()
    expect(_row(page, "ui.theme").locator("[data-value]")).to_have_text("light")
    for _ in range(200):  # its first poll waits until the change is made
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the page did not poll /api/v1/flags"
    with served.client(token) as client:
        assert put(client, "ui.theme", "dark").status_code == 200
    released = True
    for route in list(held):
        route.continue_()
    expect(_row(page, "ui.theme").locator("[data-value]")).to_have_text("dark", timeout=LIVE)


def test_the_evaluate_panel_says_why(open_page: Any) -> None:
    from playwright.sync_api import expect

    page = open_page("vera").page
    page.get_by_role("link", name="Evaluate").click()
    page.get_by_label("Targeting key").fill("alice")
    page.get_by_role("button", name="Evaluate").click()
    expect(page).to_have_url(re.compile(r"/evaluate\?targeting_key=alice"))
    row = _row(page, "new_checkout")
    expect(row.locator(".value")).to_have_text("true")
    expect(row.locator(".reason")).to_have_text("the targeting key 'alice' is in users")
    expect(_row(page, "ui.theme").locator(".reason")).to_have_text("no stored value: the default")
    page.get_by_label("Targeting key").fill("zed")
    page.get_by_role("button", name="Evaluate").click()
    expect(row.locator(".reason")).to_contain_text("(a 10% rollout)")
