"""GraphiQL in a real browser, offline: the README's sign-in flow and Dashboard query work.

Headless Chromium (Debian's package; ``.ci/run`` installs it) opens ``/graphql`` on a served
demo world, with every request to anywhere but the gateway blocked and recorded.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import ConsoleMessage, Page, Route, async_playwright

from tests.support.readme import README
from tests.support.server import serving

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update"]
ANSWER_GUARD_MS = 30_000


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a development gateway on a demo database of its own (SQLite)."""
    database = tmp_path_factory.mktemp("demo") / "gateway.db"
    return {
        **os.environ,
        "GATEWAY_ENV": "development",
        "GATEWAY_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
    }


@pytest.fixture(scope="module")
def demo(demo_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``gateway serve --demo`` on a free port: the README's first step."""
    with serving(demo_env, tmp_path_factory.mktemp("serve") / "serve.log", "--demo") as url:
        yield url


def installed_chromium() -> str:
    """Debian's Chromium: never skipped, never downloaded by Playwright."""
    assert Path(CHROMIUM).is_file(), "apt-get install chromium (.ci/run does)"
    return CHROMIUM


def demo_token(env: dict[str, str], username: str) -> str:
    """``gateway token USERNAME``, as the README has the reader mint one."""
    command = [sys.executable, "-m", "gateway.cli", "token", username]
    done = subprocess.run(  # noqa: S603 - our own command line
        command, env=env, capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout.strip()


def dashboard_query() -> str:
    found = re.search(r"```graphql\n(query Dashboard .*?)```", README.read_text(), re.DOTALL)
    assert found, "the README's Dashboard query"
    return found.group(1)


async def type_into(page: Page, editor: str, text: str) -> None:
    """Replace the text of one of GraphiQL's editors, as typed (CodeMirror's own input)."""
    await page.locator(f"{editor} .CodeMirror").filter(visible=True).click()
    await page.keyboard.press("Control+A")
    await page.keyboard.press("Delete")
    await page.keyboard.insert_text(text)


async def test_graphiql_runs_the_readme_dashboard_query_offline(
    demo: str, demo_env: dict[str, str], tmp_path: Path
) -> None:
    token = demo_token(demo_env, "admin")
    elsewhere: list[str] = []
    console_errors: list[str] = []

    async def only_the_gateway(route: Route) -> None:
        if route.request.url.startswith(f"{demo}/"):
            await route.continue_()
        else:
            elsewhere.append(route.request.url)
            await route.abort("internetdisconnected")

    def record_errors(message: ConsoleMessage) -> None:
        if message.type == "error":
            console_errors.append(message.text)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=installed_chromium(), args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("console", record_errors)
            await page.route("**/*", only_the_gateway)
            await page.goto(f"{demo}/graphql")

            await type_into(page, ".graphiql-query-editor", dashboard_query())
            await page.get_by_role("button", name="Headers", exact=True).click()
            headers = json.dumps({"Authorization": f"Bearer {token}"})
            await type_into(page, ".graphiql-editor-tool", headers)
            await page.get_by_role("button", name="Execute query (Ctrl-Enter)").click()

            result = page.locator(".graphiql-response")
            await result.get_by_text("Sunrise Family Practice").first.wait_for(
                timeout=ANSWER_GUARD_MS
            )
            answer = await result.inner_text()
            screenshot = tmp_path / "graphiql-dashboard.png"
            await page.screenshot(path=str(screenshot))
            print(f"GraphiQL screenshot: {screenshot}")
        finally:
            await browser.close()

    assert '"username": "admin"' in answer  # signed in with the token from the Headers tab
    assert elsewhere == []  # nothing was fetched from outside the gateway
    assert console_errors == []  # e.g. no Content-Security-Policy violation
