"""A malformed request body is the client's mistake (issue 9, item 8): 400 with a GraphQL error
whose code is BAD_USER_INPUT, never a 500 or plain text, and nothing runs."""

from __future__ import annotations

import pytest

from tests.support import Api, codes


def request(*members: bytes) -> bytes:
    """A JSON object of the query ``{ __typename }`` and ``members``, as raw bytes."""
    return b"{" + b", ".join([b'"query": "{ __typename }"', *members]) + b"}"


MALFORMED = {
    "a string": b'"{ __typename }"',
    "a number": b"42",
    "a boolean": b"true",
    "null": b"null",
    "NaN": b"NaN",
    "Infinity": b"-Infinity",
    "NaN inside": request(b'"variables": {"n": NaN}'),
    "not JSON": request()[:-1],
    "invalid UTF-8": request(b'"variables": {"s": "\xff\xfe"}'),
    "a surrogate encoded in UTF-8": request(b'"operationName": "\xed\xa0\x80"'),
    "Latin-1": '{"query": "{ __typename } # café"}'.encode("latin-1"),
    "nested 1,000 levels": b"[" * 1000 + b"]" * 1000,
    "variables nested 1,000 levels": request(
        b'"variables": ' + b'{"a": ' * 1000 + b"1" + b"}" * 1000
    ),
    "a number of 5,000 digits": request(b'"variables": {"n": ' + b"9" * 5000 + b"}"),
    "operationName an unpaired surrogate": request(b'"operationName": "\\ud800"'),
    "operationName a number": request(b'"operationName": 7'),
    "operationName an object": request(b'"operationName": {"name": "Q"}'),
    "variables a list": request(b'"variables": [1, 2]'),
    "variables a string": request(b'"variables": "{}"'),
    "query a number": b'{"query": 42}',
    "query an object": b'{"query": {"text": "{ __typename }"}}',
    "no query": b'{"variables": {}}',
    "a batch": b"[" + request() + b"]",
    "an unknown operation": request(b'"operationName": "Nope"'),
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
async def test_a_malformed_body_is_bad_user_input(api: Api, body: bytes) -> None:
    response = await api.client.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert (response.status_code, response.headers["content-type"]) == (400, "application/json")
    answer = response.json()
    assert codes(answer) == ["BAD_USER_INPUT"]
    assert "data" not in answer  # refused before anything ran


async def test_an_unsupported_content_type_is_bad_user_input(api: Api) -> None:
    response = await api.client.post(
        "/graphql", content=b"{ __typename }", headers={"content-type": "text/plain"}
    )
    assert (response.status_code, codes(response.json())) == (400, ["BAD_USER_INPUT"])


async def test_a_well_formed_body_is_still_answered(api: Api) -> None:
    body = request(b'"operationName": null', b'"variables": null')
    response = await api.client.post(
        "/graphql", content=body, headers={"content-type": "application/json; charset=utf-8"}
    )
    assert response.json() == {"data": {"__typename": "Query"}}
