"""The UI's static files, read once per process and served from memory.

All files live under one URL prefix that carries a hash of the whole static tree
(``/static/<hash>/js/main.js``): a browser may keep them for a year, and a new release gets a
new prefix. Relative ``import`` paths between JavaScript modules stay inside that prefix, so no
file needs its name rewritten and there is no build step. Each worker computes the same hash
from the same files. Every file also has an ETag, and text files a gzip copy made once.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from importlib import resources
from pathlib import PurePosixPath

_TEXT_TYPES = ("text/", "application/javascript", "application/json", "image/svg+xml")
_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
}


@dataclass(frozen=True)
class Asset:
    """One file's bytes, its gzip copy (None when not worth it), type and ETag."""

    body: bytes
    gzipped: bytes | None
    media_type: str
    etag: str


def _media_type(name: str) -> str:
    suffix = PurePosixPath(name).suffix.lower()
    return _TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def make_asset(name: str, body: bytes) -> Asset:
    """The served form of one file: its type from its name, ETag from its bytes."""
    media_type = _media_type(name)
    gzipped = None
    if media_type.startswith(_TEXT_TYPES) and len(body) > 512:
        # mtime=0: the same bytes in every worker and every start.
        gzipped = gzip.compress(body, compresslevel=9, mtime=0)
    etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
    return Asset(body, gzipped, media_type, etag)


class StaticFiles:
    """The files of ``runstack.ui/static`` by relative path, and the prefix they are served at."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = {name: make_asset(name, body) for name, body in files.items()}
        tree = hashlib.sha256()
        for name in sorted(files):
            tree.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
        self.version = tree.hexdigest()[:12]
        self.prefix = f"/static/{self.version}/"

    def get(self, relative: str) -> Asset | None:
        return self.files.get(relative)

    def url(self, relative: str) -> str:
        return self.prefix + relative


def load_static() -> StaticFiles:
    """Read every file shipped in the package's ``static`` folder (package data)."""
    root = resources.files("runstack.ui").joinpath("static")
    files: dict[str, bytes] = {}

    def walk(folder: resources.abc.Traversable, prefix: str) -> None:
        for entry in folder.iterdir():
            name = prefix + entry.name
            if entry.is_dir():
                walk(entry, name + "/")
            elif not entry.name.startswith("."):
                files[name] = entry.read_bytes()

    walk(root, "")
    return StaticFiles(files)
