"""The UI's HTTP routes: the page at ``/`` and the static files under their hashed prefix.

Every answer carries a Content-Security-Policy that lets the page load scripts, styles,
images and data only from this server (no inline script, no inline event handler, no other
host), ``X-Content-Type-Options: nosniff`` and a no-referrer policy. The page itself is
revalidated on every visit (ETag); static files are immutable for a year under their prefix.
The view state lives in the URL's fragment (``/#/experiments/1?filter=...``), so the server
only ever serves one page.
"""

from __future__ import annotations

from importlib import resources

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from runstack.ui.assets import Asset, StaticFiles, load_static, make_asset

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
IMMUTABLE = "public, max-age=31536000, immutable"


def _not_modified(request: Request, etag: str) -> bool:
    match = request.headers.get("if-none-match", "")
    return etag in [tag.strip() for tag in match.split(",")]


def _send(request: Request, asset: Asset, cache_control: str) -> Response:
    headers = {**SECURITY_HEADERS, "ETag": asset.etag, "Cache-Control": cache_control}
    if asset.gzipped is not None:
        headers["Vary"] = "Accept-Encoding"
    if _not_modified(request, asset.etag):
        return Response(status_code=304, headers=headers)
    body = asset.body
    if asset.gzipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
        body = asset.gzipped
        headers["Content-Encoding"] = "gzip"
    if request.method == "HEAD":
        return Response(status_code=200, headers=headers, media_type=asset.media_type)
    return Response(body, headers=headers, media_type=asset.media_type)


def _page(static: StaticFiles, read_only: bool) -> Asset:
    """The page, with the static prefix and the server's settings filled in (so the page
    needs no request before it can ask for its data)."""
    template = resources.files("runstack.ui").joinpath("page.html").read_text("utf-8")
    text = template.replace("%STATIC%", static.prefix)
    text = text.replace("%READ_ONLY%", "1" if read_only else "0")
    return make_asset("index.html", text.encode())


def _not_found(message: str) -> Response:
    return Response(message, status_code=404, headers=SECURITY_HEADERS, media_type="text/plain")


def ui_routes(*, read_only: bool = False) -> list[BaseRoute]:
    """The routes the server mounts: ``/`` and ``/static/<version>/<path>``; with
    ``read_only`` the page offers no changes (the API refuses them anyway)."""
    static = load_static()
    page = _page(static, read_only)

    async def index(request: Request) -> Response:
        return _send(request, page, "no-cache")

    async def asset(request: Request) -> Response:
        version = request.path_params["version"]
        if version != static.version:
            return _not_found(f"No static files of UI version {version!r}; reload the page.")
        found = static.get(request.path_params["path"])
        if found is None:
            return _not_found(f"No UI file {request.path_params['path']!r}.")
        return _send(request, found, IMMUTABLE)

    return [
        Route("/", index, methods=["GET", "HEAD"]),
        Route("/static/{version}/{path:path}", asset, methods=["GET", "HEAD"]),
    ]
