"""What a started gateway sets up once: the collector tuned, documents parsed once."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from gateway.http import create_app
from gateway.schema.limits import parse_within
from gateway.settings import Settings
from tests.support import Api, World


@pytest.fixture
def collector() -> Iterator[None]:
    """Python's collector as it was, restored after the test."""
    threshold = gc.get_threshold()
    yield
    gc.set_threshold(*threshold)
    gc.unfreeze()


@pytest.mark.usefixtures("collector")
async def test_a_started_gateway_collects_its_youngest_objects_less_often(
    settings: Settings,
) -> None:
    app = create_app(settings.model_copy(update={"gc_threshold": 40_000}))
    async with app.router.lifespan_context(app):
        assert gc.get_threshold()[0] == 40_000
        assert gc.get_freeze_count() > 0  # start-up's objects are out of the scans


@pytest.mark.usefixtures("collector")
async def test_a_threshold_of_zero_leaves_the_collector_alone(settings: Settings) -> None:
    before = gc.get_threshold()
    app = create_app(settings.model_copy(update={"gc_threshold": 0}))
    async with app.router.lifespan_context(app):
        assert gc.get_threshold() == before


async def test_a_document_is_parsed_once_and_a_refused_one_never_kept(
    api: Api, world: World
) -> None:
    # Answered by the resolvers (the read planner does not compile `user`), which parse it.
    query = 'query ParsedOnce { user(id: "' + world.user("admin") + '") { name } }'
    before = parse_within.cache_info()
    for _ in range(3):
        assert "errors" not in await api.query(query, as_user="admin")
    after = parse_within.cache_info()
    assert after.misses - before.misses == 1  # parsed once, then found in the cache
    assert after.hits - before.hits >= 2
    aliased = "{ " + " ".join(f"a{i}: __typename" for i in range(40)) + " }"  # > 30 aliases
    for _ in range(2):
        body = await api.query(aliased, as_user="admin")
        assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    refused = parse_within.cache_info()
    assert refused.misses - after.misses >= 2  # parsed again each time it came
    assert refused.currsize == after.currsize  # not kept


async def test_a_compiled_read_is_parsed_once_and_then_answered_from_its_plan(api: Api) -> None:
    query = "query PlannedOnce { roles { code } }"
    before = parse_within.cache_info()
    for _ in range(3):
        assert "errors" not in await api.query(query, as_user="admin")
    after = parse_within.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 0)
