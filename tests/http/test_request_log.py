"""One log line per request: in production a JSON object naming the request id (the
``x-request-id`` header, the access log's), caller, operation, status and duration, and nothing
secret (tokens, passwords, variables, emails)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from sqlalchemy import select

from gateway.auth.tokens import mint_token
from gateway.data.db import Database
from gateway.http.request_log import JsonFormatter, log_formatter
from gateway.models import AccessLogRequest
from gateway.settings import Environment, Settings
from tests.support import app_client
from tests.support.accounts import PASSWORD, Account, make_account

SECRET_VARIABLE = "a-variable-value-that-must-not-be-logged"


@pytest.fixture
def production(settings: Settings) -> Settings:
    secret = "a-production-secret-of-32-bytes-at-least"
    return settings.model_copy(update={"env": Environment.PRODUCTION, "jwt_secret": secret})


def request_lines(caplog: pytest.LogCaptureFixture, settings: Settings) -> list[str]:
    """The request log's records as the settings' formatter writes them."""
    formatter = log_formatter(settings)
    return [formatter.format(r) for r in caplog.records if r.name == "gateway.request"]


async def logged_request(db: Database, request_id: str) -> tuple[int | None, str | None]:
    async with db.session() as session:
        row = (
            await session.execute(
                select(AccessLogRequest.user_id, AccessLogRequest.operation).where(
                    AccessLogRequest.request_id == request_id
                )
            )
        ).one()
    return row.user_id, row.operation


async def test_a_request_is_one_json_line_with_the_access_logs_request_id_and_no_token(
    production: Settings, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    token = mint_token(production, "admin")
    query = "query Mine { me { username email } }"  # the variable is sent, not declared
    caplog.set_level(logging.INFO, logger="gateway.request")
    async with app_client(production) as client:
        response = await client.post(
            "/graphql",
            json={"query": query, "operationName": "Mine", "variables": {"note": SECRET_VARIABLE}},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 200, response.text
    [line] = request_lines(caplog, production)
    logged: dict[str, Any] = json.loads(line)
    request_id = response.headers["x-request-id"]
    user_id, operation = await logged_request(db, request_id)
    assert logged | {"time": None, "duration_ms": None} == {
        "time": None,
        "level": "INFO",
        "logger": "gateway.request",
        "message": logged["message"],
        "request_id": request_id,
        "method": "POST",
        "path": "/graphql",
        "status": 200,
        "duration_ms": None,
        "user_id": user_id,
        "username": "admin",
        "operation": operation,
    }
    assert operation == "Mine"
    assert isinstance(logged["duration_ms"], float)
    for secret in (token, SECRET_VARIABLE, response.json()["data"]["me"]["email"]):
        assert secret not in line


async def test_a_sign_in_is_logged_as_the_signed_in_user_without_the_password(
    production: Settings, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    account: Account = await make_account(db)
    caplog.set_level(logging.INFO, logger="gateway.request")
    async with app_client(production) as client:
        response = await client.post(
            "/graphql",
            json={
                "query": "mutation SignIn($u: String!, $p: String!) "
                "{ login(username: $u, password: $p) { accessToken refreshToken } }",
                "variables": {"u": account.username, "p": PASSWORD},
            },
        )
    answer = response.json()["data"]["login"]
    [line] = request_lines(caplog, production)
    logged = json.loads(line)
    assert (logged["user_id"], logged["username"], logged["operation"]) == (
        account.id,
        account.username,
        "SignIn",
    )
    for secret in (PASSWORD, answer["accessToken"], answer["refreshToken"], account.email):
        assert secret not in line


async def test_a_request_without_graphql_is_logged_with_its_status(
    production: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.request")
    async with app_client(production) as client:
        response = await client.get("/nowhere")
    assert response.status_code == 404
    [line] = request_lines(caplog, production)
    assert json.loads(line) | {"time": None, "duration_ms": None, "message": None} == {
        "time": None,
        "level": "INFO",
        "logger": "gateway.request",
        "message": None,
        "request_id": None,
        "method": "GET",
        "path": "/nowhere",
        "status": 404,
        "duration_ms": None,
        "user_id": None,
        "username": None,
        "operation": None,
    }


async def test_a_forged_operation_name_is_not_logged(
    production: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.request")
    forged = 'x\n{"level": "INFO", "username": "someone"}'
    async with app_client(production) as client:
        await client.post("/graphql", json={"query": "{ __typename }", "operationName": forged})
    [line] = request_lines(caplog, production)
    assert json.loads(line)["operation"] is None


@pytest.mark.parametrize(
    ("env", "log_format", "json_lines"),
    [
        (Environment.PRODUCTION, None, True),
        (Environment.DEVELOPMENT, None, False),
        (Environment.DEVELOPMENT, "json", True),
        (Environment.PRODUCTION, "text", False),
    ],
)
def test_production_logs_json_lines_and_development_readable_text(
    settings: Settings, env: Environment, log_format: str | None, json_lines: bool
) -> None:
    chosen = settings.model_copy(update={"env": env, "log_format": log_format})
    assert isinstance(log_formatter(chosen), JsonFormatter) is json_lines


async def test_development_lines_read_as_text(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.request")
    async with app_client(settings) as client:
        response = await client.post("/graphql", json={"query": "query Typename { __typename }"})
    [line] = request_lines(caplog, settings)
    [record] = [r for r in caplog.records if r.name == "gateway.request"]
    duration = record.__dict__["request"]["duration_ms"]
    assert line.endswith(
        f"INFO gateway.request: POST /graphql 200 {duration:.1f} ms operation=Typename "
        f"user=None request={response.headers['x-request-id']}"
    )
