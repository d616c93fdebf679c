"""Helpers for the identity tests: accounts with passwords, raw bearer tokens, log entries."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

import httpx
from sqlalchemy import insert, select, update

from gateway.auth.passwords import hash_password
from gateway.data.db import Database
from gateway.models import AccessLogEntry, AccessLogRequest, User, utcnow
from tests.support import JSON, Api

PASSWORD = "correct horse battery staple"  # meets the policy (R14)
NEW_PASSWORD = "a different long passphrase 7"

LOGIN = """
mutation SignIn($u: String!, $p: String!) {
  login(username: $u, password: $p) { accessToken refreshToken expiresAt mustChangePassword }
}"""
REFRESH = """
mutation Refresh($t: String!) {
  refreshToken(token: $t) { accessToken refreshToken expiresAt mustChangePassword }
}"""
CHANGE = """
mutation Change($c: String!, $n: String!) {
  changePassword(currentPassword: $c, newPassword: $n) {
    accessToken refreshToken mustChangePassword
  }
}"""
LOGOUT = "mutation SignOut { logout }"
ME = "query Me { me { id username } }"

_numbers = itertools.count(1)


@cache
def password_hash(password: str = PASSWORD) -> str:
    """One argon2id hash per password for the whole run (hashing is slow on purpose)."""
    return hash_password(password)


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    email: str


async def make_account(
    db: Database,
    *,
    status: str = "ACTIVE",
    password: str | None = PASSWORD,
    password_age: timedelta = timedelta(0),
) -> Account:
    """A user of no organization, with ``password`` set ``password_age`` ago."""
    username = f"id{next(_numbers)}-person"
    email = f"{username}@identity.example.org"
    async with db.transaction() as session:
        user_id = (
            await session.execute(
                insert(User).returning(User.id),
                [
                    {
                        "username": username,
                        "email": email,
                        "email_normalized": email,
                        "name": f"Person {username}",
                        "status": status,
                        "password_hash": None if password is None else password_hash(password),
                        "password_changed_at": utcnow() - password_age,
                        "failed_logins": 0,
                        "token_version": 0,
                    }
                ],
            )
        ).scalar_one()
    return Account(user_id, username, email)


async def set_user(db: Database, user_id: int, **values: Any) -> None:
    async with db.transaction() as session:
        await session.execute(update(User).where(User.id == user_id).values(**values))


async def user_row(db: Database, user_id: int) -> User:
    async with db.session() as session:
        user = await session.get(User, user_id)
    assert user is not None
    return user


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def call(
    api: Api, query: str, variables: JSON | None = None, *, token: str | None = None
) -> httpx.Response:
    """POST ``query`` with a raw bearer token (or none)."""
    headers = bearer(token) if token is not None else {}
    payload: JSON = {"query": query, "variables": variables or {}}
    response = await api.client.post("/graphql", json=payload, headers=headers)
    assert response.status_code == 200, response.text
    return response


async def body(
    api: Api, query: str, variables: JSON | None = None, *, token: str | None = None
) -> JSON:
    result: JSON = (await call(api, query, variables, token=token)).json()
    return result


async def login(api: Api, username: str, password: str = PASSWORD) -> JSON:
    """The LoginResult of a sign-in that must succeed."""
    answer = await body(api, LOGIN, {"u": username, "p": password})
    assert "errors" not in answer, answer
    result: JSON = answer["data"]["login"]
    return result


async def login_error(api: Api, username: str, password: str) -> JSON:
    """The one error of a sign-in that must fail."""
    answer = await body(api, LOGIN, {"u": username, "p": password})
    assert answer["data"] == {"login": None}, answer
    [error] = answer["errors"]
    result: JSON = error
    return result


async def signed_in_as(api: Api, token: str) -> str | None:
    """Whom the token signs in, or None if it is refused."""
    answer = await body(api, ME, token=token)
    me = (answer.get("data") or {}).get("me")
    return None if me is None else str(me["username"])


def code(answer: JSON) -> str | None:
    errors = answer.get("errors") or []
    return errors[0]["extensions"]["code"] if errors else None


@dataclass
class Logged:
    """One access-log entry with its request's columns."""

    entry: AccessLogEntry
    request: AccessLogRequest

    def __getattr__(self, name: str) -> Any:
        return getattr(self.entry if hasattr(self.entry, name) else self.request, name)

    @property
    def objects(self) -> list[tuple[str | None, int | None]]:
        """The objects the entry covers: (id, organization it is filed under)."""
        return [(object_id, org) for object_id, org in self.entry.objects]

    @property
    def object_id(self) -> str | None:
        """The id of the entry's one object (an entry of one execution covers one)."""
        [(object_id, _)] = self.objects
        return object_id

    @property
    def organization_id(self) -> int | None:
        """The organization the entry's one object is filed under."""
        [(_, org)] = self.objects
        return org

    def values(self) -> list[Any]:
        columns = [*AccessLogEntry.__table__.columns, *AccessLogRequest.__table__.columns]
        return [
            getattr(self.entry if c.table is AccessLogEntry.__table__ else self.request, c.key)
            for c in columns
        ]


async def logged(db: Database, response: httpx.Response) -> list[Logged]:
    """The access-log entries of the request that got ``response``."""
    return await logged_request(db, response.headers["x-request-id"])


async def logged_request(db: Database, request_id: str) -> list[Logged]:
    """The access-log entries of request ``request_id``, in chain order."""
    async with db.session() as session:
        rows = await session.execute(
            select(AccessLogEntry, AccessLogRequest)
            .join(AccessLogRequest, AccessLogRequest.first_seq == AccessLogEntry.request_seq)
            .where(AccessLogRequest.request_id == request_id)
            .order_by(AccessLogEntry.seq)
        )
        return [Logged(entry, request) for entry, request in rows]


async def events(db: Database, response: httpx.Response) -> list[tuple[str, str, str | None]]:
    """(field, decision, object id) of the request's Account events, one per user an event
    concerned (an event's entry holds each of them once)."""
    return [
        (e.field, e.decision, object_id)
        for e in await logged(db, response)
        if e.object_type == "Account"
        for object_id, _ in e.objects
    ]
