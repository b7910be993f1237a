"""The console in Debian's Chromium against the local stack, with fake providers on loopback."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import BrowserContext, Page, Playwright, expect, sync_playwright

from devstack.testing import start_local_stack, stop_local_stack
from integrations.api.recovery import PAGE_SIZE
from tests.e2e.test_recovery_over_http import publish
from tests.providers.fake_chat_apps import FakeDiscord, FakeGoogleChat, FakeTeams
from tests.providers.fake_github import FakeGitHub
from tests.providers.fake_jira import FakeJira
from tests.providers.fake_smtp import FakeSmtp
from tests.providers.fake_splunk import FakeSplunk
from tests.providers.fakes import FakePagerDuty, FakeSlack, FakeWebhookReceiver, Reply

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package (`make browser` installs it); never a downloaded build
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"

KEY = "apvk_browser_console_0123456789"
# An account of its own for the delivery-log tests: its events fan out to their integration only, not to the
# paced providers the other tests connect to acct_browser (which would hold up a hundred deliveries for minutes).
QUIET_KEY, QUIET_ACCOUNT = "apvk_browser_quiet_0123456789", "acct_browser_quiet"
JIRA_EMAIL, JIRA_TOKEN = "secops@example.com", "jira-browser-token-5ad1"
WEBHOOK_SECRET = "whsec_" + "YnJvd3Nlci10ZXN0LXNpZ25pbmcta2V5"

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

expect.set_options(timeout=15_000)


@dataclass
class Fakes:
    slack: FakeSlack
    webhook: FakeWebhookReceiver
    jira: FakeJira
    pagerduty: FakePagerDuty
    smtp: FakeSmtp


@dataclass
class Stack:
    url: str
    console: str
    fakes: Fakes
    aws: str  # the embedded AWS endpoint, to publish events as the scanner does

    def call(self, method: str, path: str, body: Any = None, key: str = KEY) -> requests.Response:
        """The API directly, to set up and to check what the console did."""
        return requests.request(method, self.url + path, json=body, headers={"X-API-Key": key}, timeout=30)

    def integration(self, name: str) -> dict[str, Any]:
        listed = self.call("GET", "/v1/integrations").json()["data"]
        return next(i for i in listed if i["name"] == name)


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing and could not be installed (`make browser` runs apt-get install chromium)")
    return CHROMIUM


@pytest.fixture(scope="module")
def stack(chromium: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    log = tmp_path_factory.mktemp("console") / "stack.log"
    with contextlib.ExitStack() as running:
        fakes = Fakes(
            slack=running.enter_context(FakeSlack()),
            webhook=running.enter_context(FakeWebhookReceiver(WEBHOOK_SECRET)),
            jira=running.enter_context(FakeJira(JIRA_EMAIL, JIRA_TOKEN)),
            pagerduty=running.enter_context(FakePagerDuty()),
            smtp=running.enter_context(FakeSmtp()),
        )
        env = {
            "LOCAL_API_KEYS": f"{KEY}=acct_browser,{QUIET_KEY}={QUIET_ACCOUNT}",
            "ALLOW_LOCAL_DESTINATIONS": "true",
            "PAGERDUTY_EVENTS_URL": fakes.pagerduty.events_url,
            "EMAIL_TRANSPORT": fakes.smtp.transport,
        }
        process, api_url, aws_url = start_local_stack(env, log_path=log)
        try:
            yield Stack(api_url, f"{api_url}/console/", fakes, aws_url)
        finally:
            assert stop_local_stack(process) == 0


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser_context(
    chromium: Path, playwright: Playwright, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BrowserContext]:
    # A fresh profile each run: no cache, no stored state from an earlier run.
    profile = tmp_path_factory.mktemp("chromium-profile")
    context = playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=str(chromium),
        headless=True,
        args=CHROMIUM_ARGS,
        viewport={"width": 1280, "height": 900},
    )
    yield context
    context.close()


@pytest.fixture
def page(browser_context: BrowserContext) -> Iterator[Page]:
    """A new tab: its session storage starts empty, so each test enters the key."""
    tab = browser_context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    tab.close()
    assert not errors, f"the console threw: {errors}"


def connect(page: Page, stack: Stack, key: str = KEY) -> None:
    """Open the console and enter the API key, with the keyboard."""
    page.goto(stack.console)
    page.get_by_label("API key").fill(key)
    page.get_by_label("API key").press("Enter")
    expect(page.get_by_role("heading", name="Integrations", exact=True)).to_be_visible()


def screenshot(page: Page, name: str) -> None:
    """Saves a view for review (tests/browser/screenshots, not committed)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def row(page: Page, name: str) -> Any:
    """The list's row of one integration."""
    return page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=re.compile(re.escape(name))))


def action(page: Page, verb: str, name: str) -> Any:
    """A row's button, by its accessible name ("Edit Security Slack")."""
    return page.get_by_role("button", name=f"{verb} {name}", exact=True)


def textbox(page: Page, name: str) -> Any:
    """A generated input, by its field's name."""
    return page.get_by_role("textbox", name=name, exact=True)


def open_new_form(page: Page, provider: str) -> None:
    page.get_by_role("button", name="New integration").click()
    page.get_by_label("Provider").select_option(label=provider)


def events(page: Page) -> Any:
    return page.get_by_role("group", name=re.compile("^Events"))


def test_a_key_is_asked_for_and_kept_in_the_tab_only(stack: Stack, page: Page) -> None:
    page.goto(stack.console)
    screenshot(page, "01-connect")
    page.get_by_label("API key").fill("apvk_not_a_key")
    page.get_by_role("button", name="Connect").click()
    expect(page.locator("#api-key-error")).to_have_text("The API key was refused. Enter a valid key.")

    connect(page, stack)
    assert KEY not in page.url
    assert page.evaluate("sessionStorage.getItem('apviso.apiKey')") == KEY
    assert page.evaluate("localStorage.length") == 0
    page.reload()  # the tab keeps it …
    expect(page.get_by_role("button", name="New integration")).to_be_visible()
    page.get_by_role("button", name="Forget key").click()  # … until forgotten
    expect(page.get_by_label("API key")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0


def test_one_integration_of_each_provider_from_the_generated_forms(stack: Stack, page: Page) -> None:
    fakes = stack.fakes
    connect(page, stack)

    open_new_form(page, "Slack")
    page.get_by_label("Name").fill("Browser Slack")
    textbox(page, "webhookUrl").fill(fakes.slack.webhook_url)
    textbox(page, "channel").fill("#security-alerts")
    events(page).get_by_label("scan.started").uncheck()
    page.get_by_label("Minimum severity").select_option("high")
    page.get_by_role("button", name="Create integration").click()
    expect(row(page, "Browser Slack")).to_contain_text("finding.critical")

    open_new_form(page, "Webhook")
    expect(textbox(page, "url")).to_have_attribute("aria-required", "true")
    expect(textbox(page, "secret")).not_to_have_attribute("aria-required", "true")
    expect(page.get_by_text("HMAC-SHA256 signing secret for payload verification")).to_be_visible()
    expect(events(page).get_by_role("checkbox")).to_have_count(9)  # the webhook's supported events, all checked
    page.get_by_label("Name").fill("Browser Webhook")
    textbox(page, "url").fill(fakes.webhook.url + "/hooks/apviso")
    textbox(page, "secret").fill(WEBHOOK_SECRET)
    textbox(page, "headers").fill('{"X-Team": "security"}')
    screenshot(page, "02-create-webhook")
    page.get_by_role("button", name="Create integration").click()
    expect(row(page, "Browser Webhook")).to_contain_text("schedule.skipped")

    open_new_form(page, "Jira")
    page.get_by_label("Name").fill("Browser Jira")
    textbox(page, "baseUrl").fill(fakes.jira.url)
    textbox(page, "email").fill(JIRA_EMAIL)
    textbox(page, "apiToken").fill(JIRA_TOKEN)
    textbox(page, "projectKey").fill("SEC")
    page.get_by_role("button", name="Create integration").click()
    expect(row(page, "Browser Jira")).to_contain_text("finding.new")

    open_new_form(page, "PagerDuty")
    expect(page.get_by_role("group", name="Configuration")).to_be_hidden()  # PagerDuty has no config fields
    page.get_by_label("Name").fill("Browser PagerDuty")
    textbox(page, "routingKey").fill("R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY12")
    events(page).get_by_label("scan.failed").uncheck()
    page.get_by_role("button", name="Create integration").click()
    expect(row(page, "Browser PagerDuty")).to_be_visible()

    open_new_form(page, "Email")
    page.get_by_label("Name").fill("Browser Email")
    textbox(page, "recipients").fill("soc@example.com\nciso@example.com")
    page.get_by_role("checkbox", name="digestMode").check()
    page.get_by_role("button", name="Create integration").click()
    expect(row(page, "Browser Email")).to_be_visible()
    screenshot(page, "03-list")

    created = {i["name"]: i for i in stack.call("GET", "/v1/integrations").json()["data"]}
    assert {created[f"Browser {p}"]["provider"] for p in ("Slack", "Webhook", "Jira", "PagerDuty", "Email")} == {
        "slack",
        "webhook",
        "jira",
        "pagerduty",
        "email",
    }
    assert created["Browser Slack"]["enabledEvents"] == [
        "scan.completed",
        "scan.failed",
        "finding.new",
        "finding.critical",
        "finding.high",
        "report.ready",
    ]
    assert created["Browser Slack"]["minimumSeverity"] == "high"
    assert created["Browser PagerDuty"]["enabledEvents"] == ["finding.critical", "finding.high"]
    # What was typed reached the providers: each integration's test delivery succeeds at its fake.
    for name in created:
        if name.startswith("Browser "):
            result = stack.call("POST", f"/v1/integrations/{created[name]['id']}/test").json()
            assert result["success"], (name, result)
    assert fakes.webhook.last.headers["x-team"] == "security" and fakes.webhook.verified
    assert sorted(fakes.smtp.received[-1].rcpt_tos) == ["ciso@example.com", "soc@example.com"]
    # The page never shows a credential back.
    page.reload()
    expect(row(page, "Browser Email")).to_be_visible()
    content = page.content()
    assert WEBHOOK_SECRET not in content and JIRA_TOKEN not in content and fakes.slack.PATH not in content


def test_the_five_providers_added_after_the_seed_from_the_generated_forms(stack: Stack, page: Page) -> None:
    github_token, hec_token = "github_pat_11BROWSER_0123456789abcdef", "0b5e1c2d-browser-hec-token-0001"
    with (
        FakeTeams() as teams,
        FakeDiscord() as discord,
        FakeGoogleChat() as chat,
        FakeGitHub(github_token) as github,
        FakeSplunk(hec_token) as splunk,
    ):
        connect(page, stack)

        open_new_form(page, "Microsoft Teams")
        expect(page.get_by_text("Office 365 connector URLs (*.webhook.office.com) are retired")).to_be_visible()
        page.get_by_label("Name").fill("Browser Teams")
        textbox(page, "webhookUrl").fill(teams.webhook_url)
        page.get_by_role("button", name="Create integration").click()
        expect(row(page, "Browser Teams")).to_contain_text("finding.new")

        open_new_form(page, "Discord")
        page.get_by_label("Name").fill("Browser Discord")
        textbox(page, "webhookUrl").fill(discord.webhook_url)
        events(page).get_by_label("scan.started").uncheck()
        page.get_by_role("button", name="Create integration").click()
        expect(row(page, "Browser Discord")).to_be_visible()

        open_new_form(page, "Google Chat")
        page.get_by_label("Name").fill("Browser Chat")
        textbox(page, "webhookUrl").fill(chat.webhook_url)
        page.get_by_role("button", name="Create integration").click()
        expect(row(page, "Browser Chat")).to_be_visible()

        open_new_form(page, "GitHub Issues")
        expect(textbox(page, "token")).to_have_attribute("aria-required", "true")
        expect(textbox(page, "apiUrl")).not_to_have_attribute("aria-required", "true")
        expect(events(page).get_by_role("checkbox")).to_have_count(3)
        page.get_by_label("Name").fill("Browser GitHub")
        textbox(page, "token").fill(github_token)
        textbox(page, "apiUrl").fill(github.url)
        textbox(page, "repository").fill("acme/webapp")
        textbox(page, "labels").fill("security\nfrom apviso")
        page.get_by_role("button", name="Create integration").click()
        expect(row(page, "Browser GitHub")).to_be_visible()

        open_new_form(page, "Splunk HEC")
        expect(events(page).get_by_role("checkbox")).to_have_count(9)
        expect(page.get_by_role("checkbox", name="skipTlsVerification")).not_to_be_checked()  # opt-in only
        page.get_by_label("Name").fill("Browser Splunk")
        textbox(page, "url").fill(splunk.url)
        textbox(page, "token").fill(hec_token)
        textbox(page, "index").fill("security")
        page.get_by_role("button", name="Create integration").click()
        expect(row(page, "Browser Splunk")).to_be_visible()
        screenshot(page, "09-new-providers")

        created = {i["name"]: i for i in stack.call("GET", "/v1/integrations").json()["data"]}
        names = {"Browser Teams": "teams", "Browser Discord": "discord", "Browser Chat": "google_chat",
                 "Browser GitHub": "github", "Browser Splunk": "splunk"}  # fmt: skip
        assert {name: created[name]["provider"] for name in names} == names
        assert "scan.started" not in created["Browser Discord"]["enabledEvents"]
        # What was typed reached each fake: every test delivery succeeds there.
        for name in names:
            result = stack.call("POST", f"/v1/integrations/{created[name]['id']}/test").json()
            assert result["success"], (name, result)
        assert teams.cards and discord.messages and chat.messages and splunk.events
        assert splunk.events[-1]["index"] == "security"
        assert (github.last.method, github.last.path) == ("GET", "/repos/acme/webapp")
        # The page never shows a credential back.
        page.reload()
        expect(row(page, "Browser Splunk")).to_be_visible()
        content = page.content()
        for secret in (github_token, hec_token, FakeDiscord.TOKEN, FakeTeams.SIG, FakeGoogleChat.TOKEN):
            assert secret not in content


def test_validation_errors_appear_next_to_their_fields(stack: Stack, page: Page) -> None:
    connect(page, stack)
    open_new_form(page, "PagerDuty")
    page.get_by_label("Name").fill("Refused pager")
    textbox(page, "routingKey").fill("too-short")
    # An event the provider does not support (as an outdated page could send): the API names enabledEvents[0].
    page.locator("#event-0").evaluate("box => { box.value = 'finding.new'; }")
    page.get_by_role("button", name="Create integration").click()

    expect(textbox(page, "routingKey")).to_have_attribute("aria-invalid", "true")
    expect(textbox(page, "routingKey")).to_be_focused()
    expect(page.locator('[data-field="credentials.routingKey"] .error')).to_contain_text("{32}")
    expect(page.locator("#enabledEvents-error")).to_contain_text("finding.new is not supported by PagerDuty")
    expect(page.get_by_role("alert").filter(has_text="Please correct the highlighted fields.")).to_be_visible()
    screenshot(page, "04-validation-error")

    textbox(page, "routingKey").fill("R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY12")
    page.locator("#event-0").evaluate("box => { box.value = 'finding.critical'; }")
    page.get_by_label("Name").fill("   ")
    page.get_by_role("button", name="Create integration").click()
    expect(page.locator('[data-field="name"] .error')).to_contain_text("at least 1 character")
    expect(page.get_by_label("Name")).to_have_attribute("aria-invalid", "true")
    expect(page.locator('[data-field="credentials.routingKey"] .error')).to_be_empty()
    expect(page.locator("#enabledEvents-error")).to_be_empty()
    assert all(i["name"] != "Refused pager" for i in stack.call("GET", "/v1/integrations").json()["data"])

    # An object field that is not a JSON object is refused in the page, on its field, before any request.
    page.get_by_role("button", name="Cancel").click()
    open_new_form(page, "Webhook")
    page.get_by_label("Name").fill("Bad headers")
    textbox(page, "url").fill(stack.fakes.webhook.url)
    textbox(page, "headers").fill("X-Team: security")
    page.get_by_role("button", name="Create integration").click()
    expect(page.locator('[data-field="config.headers"] .error')).to_contain_text("Enter a JSON object")
    expect(textbox(page, "headers")).to_be_focused()
    assert all(i["name"] != "Bad headers" for i in stack.call("GET", "/v1/integrations").json()["data"])


def test_a_test_delivery_shows_its_result_and_the_logs_page(stack: Stack, page: Page) -> None:
    receiver = stack.fakes.webhook
    created = stack.call(
        "POST",
        "/v1/integrations",
        {
            "provider": "webhook",
            "name": "Logged webhook",
            "credentials": {"url": receiver.url + "/logged", "secret": WEBHOOK_SECRET},
            "enabledEvents": ["finding.critical"],
        },
    ).json()
    connect(page, stack)
    action(page, "Deliveries of", "Logged webhook").click()
    expect(page.get_by_text("No deliveries yet.")).to_be_visible()

    page.get_by_role("button", name="Send a test event").click()
    result = page.locator("#test-result")
    expect(result).to_contain_text("Success")
    expect(result).to_contain_text("Response code: 204")
    expect(result).to_contain_text(re.compile(r"Response time: \d+ ms"))
    assert receiver.last.path == "/logged" and receiver.last.json()["type"] == "integration.test"

    receiver.script(Reply(500, "receiver broke"))
    page.get_by_role("button", name="Send a test event").click()
    expect(result).to_contain_text("Failed")
    expect(result).to_contain_text("Response code: 500")
    expect(result).to_contain_text("Error:")

    for _ in range(20):  # 22 entries in all: two pages of 20
        assert stack.call("POST", f"/v1/integrations/{created['id']}/test").json()["success"]
    page.get_by_role("button", name="Back to integrations").click()
    action(page, "Deliveries of", "Logged webhook").click()
    expect(page.locator("#logs-page")).to_have_text("Page 1 of 2 (22 entries)")
    expect(page.locator("#logs tbody tr")).to_have_count(20)
    expect(page.get_by_role("img", name="21 successful and 1 failed deliveries in the last 30 days")).to_be_visible()
    expect(page.get_by_role("button", name="Previous")).to_be_disabled()
    screenshot(page, "05-deliveries")

    page.get_by_role("button", name="Next").click()
    expect(page.locator("#logs-page")).to_have_text("Page 2 of 2 (22 entries)")
    expect(page.locator("#logs tbody tr")).to_have_count(2)
    expect(page.get_by_role("button", name="Next")).to_be_disabled()
    # The oldest two: the successful first test, then the failure (newest first).
    expect(page.locator("#logs tbody tr").nth(0)).to_contain_text("failed")
    expect(page.locator("#logs tbody tr").nth(1)).to_contain_text("success")
    page.get_by_role("button", name="Previous").click()
    expect(page.locator("#logs-page")).to_have_text("Page 1 of 2 (22 entries)")
    # The chart's bar of today has both counts (its title is the tooltip).
    today = page.locator("svg.chart g title").last
    expect(today).to_contain_text("21 succeeded, 1 failed")


def test_a_receiver_gone_disables_the_integration_and_the_list_says_why(stack: Stack, page: Page) -> None:
    receiver = stack.fakes.webhook
    stack.call(
        "POST",
        "/v1/integrations",
        {
            "provider": "webhook",
            "name": "Gone webhook",
            "credentials": {"url": receiver.url + "/gone", "secret": WEBHOOK_SECRET},
            "enabledEvents": ["scan.completed"],
        },
    ).raise_for_status()
    connect(page, stack)
    action(page, "Deliveries of", "Gone webhook").click()
    receiver.script(Reply(410, "this endpoint was removed"))
    page.get_by_role("button", name="Send a test event").click()
    expect(page.locator("#test-result")).to_contain_text("Response code: 410")
    page.get_by_role("button", name="Back to integrations").click()
    gone = row(page, "Gone webhook")
    expect(gone).to_contain_text("Disabled")
    expect(gone).to_contain_text("The receiver answered 410 Gone")
    screenshot(page, "08-auto-disabled")
    assert stack.integration("Gone webhook")["disabledReason"] == "The receiver answered 410 Gone"


def test_edit_disable_enable_and_delete_with_confirmation(stack: Stack, page: Page) -> None:
    receiver = stack.fakes.webhook
    created = stack.call(
        "POST",
        "/v1/integrations",
        {
            "provider": "webhook",
            "name": "Editable webhook",
            "credentials": {"url": receiver.url + "/editable", "secret": WEBHOOK_SECRET},
            "enabledEvents": ["scan.completed", "finding.critical"],
        },
    ).json()
    connect(page, stack)

    action(page, "Edit", "Editable webhook").click()
    expect(textbox(page, "url")).to_have_value("")  # credentials are never shown back
    expect(textbox(page, "url")).not_to_have_attribute("aria-required", "true")
    expect(events(page).get_by_label("scan.completed")).to_be_checked()
    expect(events(page).get_by_label("scan.failed")).not_to_be_checked()
    page.get_by_label("Name").fill("Edited webhook")
    events(page).get_by_label("scan.failed").check()
    page.get_by_label("Minimum severity").select_option("medium")
    expect(textbox(page, "headers")).to_be_disabled()  # the stored configuration stays unless replaced
    page.get_by_label("Replace the configuration").check()
    textbox(page, "headers").fill('{"X-Edited": "yes"}')
    screenshot(page, "06-edit")
    page.get_by_role("button", name="Save changes").click()
    expect(row(page, "Edited webhook")).to_contain_text("scan.failed")
    expect(page.get_by_role("status").first).to_contain_text("Edited webhook saved.")
    edited = stack.integration("Edited webhook")
    assert edited["enabledEvents"] == ["scan.completed", "scan.failed", "finding.critical"]
    assert edited["minimumSeverity"] == "medium"
    # Blank credential inputs left the stored ones in force: the signed test still reaches the receiver.
    assert stack.call("POST", f"/v1/integrations/{created['id']}/test").json()["success"]
    assert receiver.last.path == "/editable" and receiver.last.headers["x-edited"] == "yes"

    action(page, "Disable", "Edited webhook").click()
    expect(row(page, "Edited webhook")).to_contain_text("Disabled")
    assert stack.integration("Edited webhook")["enabled"] is False
    expect(action(page, "Enable", "Edited webhook")).to_be_focused()  # the redrawn row keeps the keyboard's place
    action(page, "Enable", "Edited webhook").click()
    expect(row(page, "Edited webhook")).to_contain_text("Enabled")
    assert stack.integration("Edited webhook")["enabled"] is True

    action(page, "Delete", "Edited webhook").click()
    dialog = page.get_by_role("dialog", name="Delete integration?")
    expect(dialog).to_be_visible()
    screenshot(page, "07-delete-confirmation")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(row(page, "Edited webhook")).to_be_visible()

    action(page, "Delete", "Edited webhook").click()
    dialog.get_by_role("button", name="Delete").click()
    expect(row(page, "Edited webhook")).to_have_count(0)
    expect(page.get_by_role("status").first).to_contain_text("Edited webhook deleted.")
    assert all(i["id"] != created["id"] for i in stack.call("GET", "/v1/integrations").json()["data"])


def test_a_webhook_is_connected_with_the_keyboard_alone(stack: Stack, page: Page) -> None:
    connect(page, stack)  # types the key and presses Enter
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="New integration")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_label("Provider")).to_be_focused()
    page.keyboard.press("ArrowDown")  # Slack → Webhook
    expect(page.get_by_label("Provider")).to_have_value("webhook")
    page.keyboard.press("Tab")
    page.keyboard.type("Keyboard webhook")
    page.keyboard.press("Tab")
    expect(textbox(page, "url")).to_be_focused()
    page.keyboard.type(stack.fakes.webhook.url + "/keyboard")
    page.keyboard.press("Enter")
    expect(row(page, "Keyboard webhook")).to_be_visible()
    expect(page.get_by_role("heading", name="Integrations", exact=True)).to_be_focused()

    action(page, "Delete", "Keyboard webhook").focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Delete integration?")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()  # the safe choice
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(row(page, "Keyboard webhook")).to_be_visible()


def failed_deliveries(stack: Stack, receiver: FakeWebhookReceiver, name: str, events: int) -> str:
    """A webhook integration whose ``events`` scanner events each failed for good (400); its id."""
    created = stack.call(
        "POST",
        "/v1/integrations",
        {
            "provider": "webhook",
            "name": name,
            "credentials": {"url": receiver.url, "secret": WEBHOOK_SECRET},
            "enabledEvents": ["scan.completed"],
        },
        key=QUIET_KEY,
    ).json()
    receiver.script(*[Reply(400, "rejected")] * events)
    for n in range(events):
        publish(stack.aws, f"evt_{name.replace(' ', '_')}_{n}", account=QUIET_ACCOUNT)
    path = f"/v1/integrations/{created['id']}/logs?limit=1"
    deadline = time.monotonic() + 60 + events  # a second each: generous on a busy machine
    while stack.call("GET", path, key=QUIET_KEY).json()["pagination"]["total"] < events:
        assert time.monotonic() < deadline, "the deliveries were not attempted"
        time.sleep(0.2)
    return str(created["id"])


def test_each_log_row_shows_its_attempt_and_redeliver_sends_it_again(stack: Stack, page: Page) -> None:
    with FakeWebhookReceiver(WEBHOOK_SECRET) as receiver:
        hook = failed_deliveries(stack, receiver, "Redelivered webhook", 1)
        assert stack.call("POST", f"/v1/integrations/{hook}/test", key=QUIET_KEY).json()["success"]
        connect(page, stack, QUIET_KEY)
        action(page, "Deliveries of", "Redelivered webhook").click()
        rows = page.locator("#logs tbody tr")
        expect(rows).to_have_count(2)
        expect(page.get_by_role("columnheader", name="Attempt")).to_be_visible()
        test_row, failed_row = rows.nth(0), rows.nth(1)
        expect(test_row).to_contain_text("integration.test")
        expect(test_row.get_by_role("button", name=re.compile("^Redeliver"))).to_have_count(0)  # a test is not
        expect(failed_row.locator("td").nth(3)).to_have_text("1")  # the attempt's number
        screenshot(page, "09-log-rows-with-attempts")

        failed_row.get_by_role("button", name=re.compile(r"^Redeliver scan\.completed of .* \(attempt 1\)$")).click()
        expect(page.locator("#announcer")).to_contain_text("Redelivery of scan.completed queued")
        expect(rows).to_have_count(3)  # the log reloads while the redelivery is attempted
        expect(rows.nth(0)).to_contain_text("success")
        first, again = receiver.requests[0], receiver.requests[-1]
        assert again.headers["webhook-id"] == first.headers["webhook-id"] and again.json() == first.json()
        assert len(receiver.verified) == 2, "the test and the redelivery, signed"


def test_recover_failed_deliveries_since_from_the_delivery_log(stack: Stack, page: Page) -> None:
    with FakeWebhookReceiver(WEBHOOK_SECRET) as receiver:
        hook = failed_deliveries(stack, receiver, "Recovered webhook", 2)
        originals = {r.headers["webhook-id"]: r.json() for r in receiver.requests}
        connect(page, stack, QUIET_KEY)
        action(page, "Deliveries of", "Recovered webhook").click()
        rows = page.locator("#logs tbody tr")
        expect(rows).to_have_count(2)
        since = page.get_by_label("Recover failed deliveries since")
        expect(since).not_to_have_value("")  # a day back by default

        since.fill("2020-01-01T00:00")  # past the log's 30 days: the API's message is shown
        page.get_by_role("button", name="Recover", exact=True).click()
        result = page.locator("#recover-result")
        expect(result).to_contain_text("Not recovered")
        expect(result).to_contain_text("30 days")

        an_hour_ago = datetime.now() - timedelta(hours=1)  # the browser's time zone is this machine's
        since.fill(an_hour_ago.strftime("%Y-%m-%dT%H:%M"))
        page.get_by_role("button", name="Recover", exact=True).click()
        expect(result).to_contain_text("2 deliveries queued — deliveries whose latest attempt failed since")
        screenshot(page, "10-recovery-accepted")
        expect(rows).to_have_count(4)  # the log reloads while the recovered deliveries are attempted
        expect(rows.nth(0)).to_contain_text("success")
        expect(rows.nth(1)).to_contain_text("success")
        resent = receiver.requests[2:]
        assert sorted(r.headers["webhook-id"] for r in resent) == sorted(originals), "each failed delivery once"
        assert all(r.json() == originals[r.headers["webhook-id"]] for r in resent)

        stack.call("PATCH", f"/v1/integrations/{hook}", {"enabled": False}, key=QUIET_KEY).raise_for_status()
        page.get_by_role("button", name="Recover", exact=True).click()
        expect(result).to_contain_text("Not recovered — The integration is disabled")


def test_a_recovery_beyond_one_page_says_the_rest_continues(stack: Stack, page: Page) -> None:
    events = PAGE_SIZE + 1  # one attempt each: the request's page holds all but the oldest
    with FakeWebhookReceiver(WEBHOOK_SECRET) as receiver:
        failed_deliveries(stack, receiver, "Long-down webhook", events)
        originals = {r.headers["webhook-id"] for r in receiver.requests}
        connect(page, stack, QUIET_KEY)
        action(page, "Deliveries of", "Long-down webhook").click()
        since = page.get_by_label("Recover failed deliveries since")
        since.fill((datetime.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
        page.get_by_role("button", name="Recover", exact=True).click()
        expect(page.locator("#recover-result")).to_contain_text(f"{PAGE_SIZE} queued so far, the rest continues")
        screenshot(page, "11-recovery-continues")
        deadline = time.monotonic() + 60 + 2 * events
        while len(receiver.requests) < 2 * events:  # the walker queues the oldest one after the answer
            assert time.monotonic() < deadline, "the recovered deliveries did not all arrive"
            time.sleep(0.2)
        time.sleep(1)  # anything sent twice would have arrived by now
        resent = receiver.requests[events:]
        assert sorted(r.headers["webhook-id"] for r in resent) == sorted(originals), "each failed delivery once"
