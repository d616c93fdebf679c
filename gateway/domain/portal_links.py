"""Links to the portal front-end's pages (GATEWAY_PORTAL_URL): the gateway serves none."""

from __future__ import annotations

from urllib.parse import urlencode

from gateway.settings import Settings

REGISTER = "/register"  # R2: an invitation's link
ACTIVATE = "/activate"  # R1: the page the activation letter names
RECOVER_PASSWORD = "/recover-password"  # noqa: S105 - a page. R13: a recovery email's link


def portal_link(settings: Settings, page: str, **query: str) -> str:
    """The portal's ``page``, with ``query`` as its query string."""
    link = f"{settings.portal_url}{page}"
    return f"{link}?{urlencode(query)}" if query else link
