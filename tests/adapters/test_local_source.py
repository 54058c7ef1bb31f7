"""Reading tenants files from real temp files and directories: what is read, what is refused, and why."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from controller.adapters import local_source
from controller.adapters.local_source import is_tenants_change, read_tenant_files
from controller.core.loader import parse_tenant_files
from controller.errors import SourceUnavailable, TenantsFileInvalid

TENANTS = b"tenants: []\n"


def write(path: Path, content: bytes = TENANTS) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def invalid(path: Path | str, **limits: int) -> list[str]:
    with pytest.raises(TenantsFileInvalid) as info:
        read_tenant_files(path, **limits)
    return [str(p) for p in info.value.problems]


def test_single_file_is_named_as_given(tmp_path: Path) -> None:
    path = write(tmp_path / "config" / "tenants.yaml", b"tenants:\n  - {id: a, name: A}\n")
    assert read_tenant_files(path) == {str(path): b"tenants:\n  - {id: a, name: A}\n"}


def test_single_file_with_any_extension_is_read(tmp_path: Path) -> None:
    path = write(tmp_path / "tenants.txt")
    assert read_tenant_files(str(path)) == {str(path): TENANTS}


def test_directory_reads_yaml_files_recursively_sorted_with_relative_names(tmp_path: Path) -> None:
    write(tmp_path / "us.yml", b"us")
    write(tmp_path / "eu" / "de.yaml", b"de")
    write(tmp_path / "eu" / "fr" / "paris.yaml", b"paris")
    write(tmp_path / "README.md", b"not yaml")
    write(tmp_path / "eu" / "notes.txt", b"not yaml")
    files = read_tenant_files(tmp_path)
    assert list(files) == ["eu/de.yaml", "eu/fr/paris.yaml", "us.yml"]
    assert files["eu/fr/paris.yaml"] == b"paris"


def test_hidden_files_and_directories_are_skipped(tmp_path: Path) -> None:
    write(tmp_path / "tenants.yaml")
    write(tmp_path / ".draft.yaml", b"broken: [")
    write(tmp_path / ".git" / "config.yaml", b"broken: [")
    write(tmp_path / "eu" / ".hidden" / "x.yaml", b"broken: [")
    assert list(read_tenant_files(tmp_path)) == ["tenants.yaml"]


def test_missing_path_is_unavailable_and_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "tenants.yaml"
    with pytest.raises(SourceUnavailable) as info:
        read_tenant_files(missing)
    assert str(info.value) == f"tenants path {missing} does not exist"
    assert info.value.retryable
    assert isinstance(info.value.__cause__, FileNotFoundError)


@pytest.mark.parametrize("extra", [None, "notes.txt", ".hidden.yaml"])
def test_directory_without_yaml_files_is_invalid(tmp_path: Path, extra: str | None) -> None:
    if extra:
        write(tmp_path / extra)
    assert invalid(tmp_path) == [f"{tmp_path}: no *.yaml or *.yml files in this directory (hidden files are skipped)"]


def test_symlinked_file_pointing_outside_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "tenants"
    write(root / "ok.yaml")
    secret = write(tmp_path / "outside" / "secret.yaml")
    (root / "leak.yaml").symlink_to(secret)
    assert invalid(root) == [f"leak.yaml: symlink points outside the tenants directory (to {secret}); refused"]


def test_symlinked_directory_pointing_outside_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "tenants"
    write(root / "ok.yaml")
    write(tmp_path / "elsewhere" / "x.yaml")
    (root / "more").symlink_to(tmp_path / "elsewhere")
    assert invalid(root) == [
        f"more: symlink points outside the tenants directory (to {tmp_path / 'elsewhere'}); refused"
    ]


def test_symlinks_inside_the_directory_are_followed_like_a_configmap_mount(tmp_path: Path) -> None:
    """Kubernetes mounts a ConfigMap as ``name -> ..data/name`` with ``..data`` a hidden directory."""
    root = tmp_path / "mount"
    write(root / "..2024_01_01" / "tenants.yaml", b"real")
    (root / "..data").symlink_to("..2024_01_01")
    (root / "tenants.yaml").symlink_to("..data/tenants.yaml")
    assert read_tenant_files(root) == {"tenants.yaml": b"real"}


def test_the_path_itself_may_be_a_symlink(tmp_path: Path) -> None:
    """git-sync publishes ``current -> .worktrees/<sha>``; the configured path goes through it."""
    write(tmp_path / ".worktrees" / "abc" / "tenants" / "a.yaml", b"a")
    (tmp_path / "current").symlink_to(".worktrees/abc")
    assert read_tenant_files(tmp_path / "current" / "tenants") == {"a.yaml": b"a"}


def test_symlink_loop_does_not_hang(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "again").symlink_to(tmp_path)
    assert list(read_tenant_files(tmp_path)) == ["a.yaml"]


def test_broken_symlink_is_reported(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml")
    (tmp_path / "gone.yaml").symlink_to(tmp_path / "missing.yaml")
    assert invalid(tmp_path) == ["gone.yaml: broken symlink (its target does not exist)"]


def test_oversized_file_is_refused_without_reading_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "small.yaml")
    big = tmp_path / "big.yaml"
    with big.open("wb") as handle:
        handle.truncate(2 * 1024 * 1024 * 1024)  # a sparse 2 GiB file: costs no disk, would cost memory
    opened: list[str] = []
    real_read = local_source._read

    def spy(file_path: str, display: str, limit: int) -> bytes:
        opened.append(display)
        return real_read(file_path, display, limit)

    monkeypatch.setattr(local_source, "_read", spy)
    assert invalid(tmp_path) == [
        "big.yaml: file is over the size limit of 33,554,432 bytes (2,147,483,648 bytes); not read"
    ]
    assert opened == []
    assert invalid(big, max_file_bytes=1000) == [
        f"{big}: file is over the size limit of 1,000 bytes (2,147,483,648 bytes); not read"
    ]


def test_file_that_grows_past_the_limit_after_stat_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "a.yaml", b"x" * 100)
    with pytest.raises(TenantsFileInvalid) as info:
        local_source._read(str(path), "a.yaml", 50)
    assert "a.yaml: file is over the size limit of 50 bytes (larger than that); not read" in str(info.value)


def test_total_size_limit(tmp_path: Path) -> None:
    for name in ("a.yaml", "b.yaml", "c.yaml"):
        write(tmp_path / name, b"#" * 400)
    assert read_tenant_files(tmp_path, max_total_bytes=1200)
    assert invalid(tmp_path, max_total_bytes=1000) == [
        f"{tmp_path}: the tenants files add up to more than the limit of 1,000 bytes"
    ]


def test_special_file_named_yaml_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml")
    os.mkfifo(tmp_path / "pipe.yaml")
    assert invalid(tmp_path) == ["pipe.yaml: not a regular file"]
    assert invalid(tmp_path / "pipe.yaml") == [f"{tmp_path / 'pipe.yaml'}: not a regular file or directory"]


def test_unreadable_file_is_unavailable_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "a.yaml")

    def denied(file: str, mode: str = "r") -> None:
        raise PermissionError(13, "Permission denied", file)

    monkeypatch.setattr(local_source, "open", denied, raising=False)  # as chmod 000 would, even for root
    with pytest.raises(SourceUnavailable) as info:
        read_tenant_files(tmp_path)
    assert str(info.value) == f"cannot read tenants file {path}: Permission denied"
    assert isinstance(info.value.__cause__, PermissionError)


def test_unlistable_directory_is_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "a.yaml")

    def denied(path: str) -> None:
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(os, "scandir", denied)
    with pytest.raises(SourceUnavailable) as info:
        read_tenant_files(tmp_path)
    assert str(info.value) == f"cannot list {tmp_path}: Permission denied"
    assert isinstance(info.value.__cause__, PermissionError)


def test_directory_problems_name_the_relative_file_and_line(tmp_path: Path) -> None:
    """End to end with the loader: a duplicate id across two files names both, as a user sees it."""
    write(tmp_path / "eu" / "a.yaml", b"tenants:\n  - id: acme\n    name: ACME EU\n")
    write(tmp_path / "us" / "b.yaml", b"tenants:\n  - id: acme\n    name: ACME US\n")
    with pytest.raises(TenantsFileInvalid) as info:
        parse_tenant_files(read_tenant_files(tmp_path))
    assert [str(p) for p in info.value.problems] == [
        "us/b.yaml:2: duplicate tenant id 'acme': also declared at eu/a.yaml:2"
    ]


@pytest.mark.parametrize(
    ("source", "changed", "counts"),
    [
        ("/ops/tenants.yaml", "/ops/tenants.yaml", True),
        ("/ops/tenants.yaml", "/ops/other.yaml", False),  # a file source is that file only
        ("/ops/tenants.yaml", "/ops/state/state.json", False),
        ("/ops/tenants", "/ops/tenants/eu.yaml", True),
        ("/ops/tenants", "/ops/tenants/eu/acme.YML", True),
        ("/ops/tenants", "/ops/tenants/README.md", False),
        ("/ops/tenants", "/ops/tenants/.hidden.yaml", False),
        ("/ops/tenants", "/ops/tenants/.git/x.yaml", False),
        ("/ops/tenants", "/ops/tenants/state/backups/x.yaml", False),  # the store inside the source folder
        ("/ops/tenants", "/ops/tenants/state", False),
        ("/ops/tenants", "/elsewhere/eu.yaml", False),
    ],
)
def test_only_changes_to_the_tenants_files_count(source: str, changed: str, counts: bool) -> None:
    assert is_tenants_change(changed, Path(source), (Path("/ops/tenants/state"),)) is counts
