"""GraphiQL's page and assets come from the gateway itself, under a policy allowing only them."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from gateway.settings import Environment, Settings
from tests.support import Api, World, app_client

STATIC = Path(__file__).resolve().parents[2] / "gateway" / "http" / "graphiql" / "static"


async def graphiql_page(api: Api) -> httpx.Response:
    return await api.client.get("/graphql", headers={"Accept": "text/html"})


def referenced_assets(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/[^"]*)"', html)


async def test_the_page_allows_only_the_gateways_own_scripts_and_connections(api: Api) -> None:
    response = await graphiql_page(api)
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in response.headers["content-security-policy"].split(";")
    )
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"
    assert policy["connect-src"] == "'self'"
    assert "<script>" not in response.text  # the bootstrap is a served file (script-src 'self')


async def test_every_asset_the_page_loads_is_served_by_the_gateway(api: Api) -> None:
    response = await graphiql_page(api)
    assets = referenced_assets(response.text)
    assert len(assets) == 8 and not re.search(r"https?://", response.text)
    for path in assets:
        asset = await api.client.get(path)
        assert asset.status_code == 200, path
        assert asset.headers["content-type"].startswith(("text/javascript", "text/css")), path


@pytest.mark.parametrize("package", ["react", "react-dom", "graphiql", "plugin-explorer"])
async def test_each_vendored_package_is_served_with_its_licence(api: Api, package: str) -> None:
    licence = await api.client.get(f"/graphiql/vendor/{package}/LICENSE")
    assert licence.status_code == 200 and "MIT License" in licence.text


def test_each_vendored_directory_keeps_its_licence() -> None:
    for directory in (STATIC / "vendor").iterdir():
        assert (directory / "LICENSE").is_file(), directory.name


async def test_production_serves_neither_the_page_nor_its_assets(
    settings: Settings, world: World
) -> None:
    production = settings.model_copy(
        update={"env": Environment.PRODUCTION, "jwt_secret": "a-production-secret-0123456789"}
    )
    async with app_client(production) as client:
        page = await client.get("/graphql", headers={"Accept": "text/html"})
        asset = await client.get("/graphiql/start.js")
    assert (page.status_code, asset.status_code) == (404, 404)
