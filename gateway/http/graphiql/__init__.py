"""GraphiQL (development only), served by the gateway itself: the page, its assets, its CSP.

The assets are vendored under ``static/`` (see README.md there for where they come from), so the
page works on networks without internet and its Content-Security-Policy can allow nothing else.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from starlette.responses import HTMLResponse
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

ASSETS_PATH = "/graphiql"

# Only the gateway's own files and its own /graphql. GraphiQL sets inline styles (CodeMirror,
# its resizable panes), and its stylesheet embeds fonts and icons as data: URLs.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)


@cache
def _page() -> str:
    return (files(__name__) / "page.html").read_text(encoding="utf-8")


def page() -> HTMLResponse:
    """The GraphiQL page, under a policy that allows only the gateway's own assets."""
    return HTMLResponse(
        _page(),
        headers={
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


def assets() -> Mount:
    """``/graphiql/...``: the page's scripts and stylesheets, with the vendored licences."""
    return Mount(ASSETS_PATH, StaticFiles(packages=[(__name__, "static")]), name="graphiql")
