"""The system tags of a new run: who started it, from which script, at which git commit.

Git information is read from the repository's files (HEAD, refs, packed-refs), never by
spawning ``git``, and computed once per process.
"""

from __future__ import annotations

import functools
import getpass
import os
import socket
import sys
from pathlib import Path

from runstack.settings import TRACKING_USERNAME
from runstack.tags import GIT_BRANCH, GIT_COMMIT, HOST, PID, SOURCE_NAME, SOURCE_TYPE, USER


def current_user() -> str:
    return TRACKING_USERNAME.read() or _login_name()


@functools.lru_cache(maxsize=1)
def _login_name() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"


def _git_dir(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        candidate = folder / ".git"
        if candidate.is_dir():
            return candidate
        if candidate.is_file():  # a worktree or submodule: "gitdir: <path>"
            text = candidate.read_text(encoding="utf-8", errors="replace").strip()
            if text.startswith("gitdir:"):
                target = Path(text[len("gitdir:") :].strip())
                return target if target.is_absolute() else (folder / target).resolve()
    return None


def _resolve_ref(git_dir: Path, ref: str) -> str | None:
    for base in (git_dir, _common_dir(git_dir)):
        loose = base / ref
        if loose.is_file():
            return loose.read_text(encoding="utf-8").strip() or None
        packed = base / "packed-refs"
        if packed.is_file():
            for line in packed.read_text(encoding="utf-8").splitlines():
                parts = line.split()
                if len(parts) == 2 and parts[1] == ref:
                    return parts[0]
    return None


def _common_dir(git_dir: Path) -> Path:
    common = git_dir / "commondir"
    if common.is_file():
        return (git_dir / common.read_text(encoding="utf-8").strip()).resolve()
    return git_dir


def git_tags(script: str) -> dict[str, str]:
    """Commit (and branch) of the work tree holding ``script``; empty when there is none."""
    try:
        start = Path(script).resolve().parent if script else Path.cwd()
        git_dir = _git_dir(start)
        if git_dir is None:
            return {}
        head = (git_dir / "HEAD").read_text(encoding="utf-8").strip()
        if head.startswith("ref:"):
            ref = head[len("ref:") :].strip()
            commit = _resolve_ref(git_dir, ref)
            branch = ref.removeprefix("refs/heads/")
            if commit is None:  # a branch with no commit yet
                return {}
            return {GIT_COMMIT: commit, GIT_BRANCH: branch}
        return {GIT_COMMIT: head}
    except OSError:
        return {}


@functools.lru_cache(maxsize=1)
def _process_tags() -> dict[str, str]:
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else ""
    tags = {
        SOURCE_NAME: argv0 or "<console>",
        SOURCE_TYPE: "LOCAL",
        HOST: socket.gethostname(),
    }
    script = argv0 if argv0 and argv0 not in ("-c", "-m") and os.path.exists(argv0) else ""
    if script:
        tags.update(git_tags(script))
    return tags


def system_tags() -> dict[str, str]:
    """Tags every new fluent run gets before the user's own tags are applied."""
    tags = dict(_process_tags())
    tags[USER] = current_user()
    tags[PID] = str(os.getpid())
    return tags


def owner_tags() -> dict[str, str]:
    """The host and pid of the process that now writes to a run (set again on resume)."""
    return {HOST: _process_tags()[HOST], PID: str(os.getpid())}
