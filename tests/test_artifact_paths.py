"""``safe_relative_path``: the one spelling rule for artifact paths, and the scheme registry."""

from __future__ import annotations

import pytest

from runstack.artifacts.local import LocalArtifactRepository
from runstack.artifacts.paths import join, safe_file_name, safe_relative_path
from runstack.artifacts.registry import repository_for, scheme_of
from runstack.errors import InvalidParameterError


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, ""),
        ("", ""),
        (".", ""),
        ("a", "a"),
        ("a/b/c.txt", "a/b/c.txt"),
        ("a//b/", "a/b"),
        ("./a/./b", "a/b"),
        ("a..b/c..", "a..b/c.."),
        ("..hidden", "..hidden"),
        ("dir with space/é.txt", "dir with space/é.txt"),
    ],
)
def test_normalises_safe_paths(given: str | None, expected: str) -> None:
    assert safe_relative_path(given) == expected


@pytest.mark.parametrize(
    ("given", "rule"),
    [
        ("..", "'..'"),
        ("../x", "'..'"),
        ("a/../../x", "'..'"),
        ("a/..", "'..'"),
        ("/etc/passwd", "absolute"),
        ("//server/share", "absolute"),
        ("a\\..\\b", "backslash"),
        ("C:/Windows", "drive"),
        ("c:x", "drive"),
        ("a\x00b", "NUL"),
        ("a\nb.txt", "control characters"),
        ("dir\t/b", "control characters"),
        ("\x1b[31mred", "control characters"),
        ("del\x7f", "control characters"),
    ],
)
def test_refuses_escapes_naming_the_path(given: str, rule: str) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        safe_relative_path(given)
    assert repr(given) in caught.value.message
    assert rule in caught.value.message
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"


@pytest.mark.parametrize(
    ("given", "rule"),
    [
        ("9" * 256, "longer than 255 bytes"),
        ("a/" + "é" * 128, "longer than 255 bytes"),  # 256 bytes in UTF-8
        ("/".join(["d" * 200] * 6), "longer than 1024 bytes"),
    ],
)
def test_refuses_names_and_paths_no_storage_can_hold(given: str, rule: str) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        safe_relative_path(given)
    assert rule in caught.value.message
    assert len(caught.value.message) < 200  # the path is shown shortened
    assert safe_relative_path("9" * 255) == "9" * 255


def test_refuses_non_strings() -> None:
    with pytest.raises(InvalidParameterError, match="expected a string"):
        safe_relative_path(3)  # type: ignore[arg-type]


def test_join_and_file_names() -> None:
    assert join("a/", None, "", "b/c") == "a/b/c"
    assert safe_file_name("x/y.json") == "x/y.json"
    with pytest.raises(InvalidParameterError, match="give a file name"):
        safe_file_name("./")
    with pytest.raises(InvalidParameterError, match=r"'\.\.'"):
        join("a", "../..")


def test_scheme_dispatch(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert scheme_of("/x/y") == ""
    assert scheme_of("C:/x") == ""
    assert scheme_of("S3://b/k") == "s3"
    local = repository_for(str(tmp_path))
    assert isinstance(local, LocalArtifactRepository)
    assert local.root == tmp_path
    by_uri = repository_for(tmp_path.as_uri())
    assert isinstance(by_uri, LocalArtifactRepository)
    assert by_uri.root == tmp_path


def test_unknown_scheme_names_it_and_the_known_ones() -> None:
    with pytest.raises(InvalidParameterError) as caught:
        repository_for("ftp://host/x")
    assert "'ftp'" in caught.value.message
    assert "s3" in caught.value.message and "file" in caught.value.message
