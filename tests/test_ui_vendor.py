"""`make ui-assets` (sm_pipelines.ui.vendor): a tarball whose sha512 differs from the lock is
refused; a matching one is unpacked into the vendor folder once, and a second run does nothing.
npm is replaced by a stand-in that hands back a tarball made here (no registry is reached)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from sm_pipelines.errors import UserError
from sm_pipelines.ui import vendor


def _tarball(folder: Path) -> Path:
    path = folder / "lib-1.0.0.tgz"
    with tarfile.open(path, "w:gz") as archive:
        for name, text in (
            ("package/dist/lib.min.js", "window.lib = 1;"),
            ("package/LICENSE", "MIT"),
        ):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def _lock(folder: Path, integrity: str) -> Path:
    lock = folder / "assets.lock.toml"
    lock.write_text(
        "[[packages]]\n"
        'name = "lib"\n'
        'version = "1.0.0"\n'
        f'integrity = "{integrity}"\n'
        'files = { "package/dist/lib.min.js" = "lib.min.js", "package/LICENSE" = "lib.LICENSE" }\n'
    )
    return lock


def test_a_tarball_that_is_not_the_locked_one_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tarball = _tarball(tmp_path)
    monkeypatch.setattr(vendor, "_pack", lambda name, version, folder: tarball)
    lock = _lock(tmp_path, "sha512-" + "A" * 86 + "==")
    with pytest.raises(UserError, match=r"lib@1.0.0: the registry's tarball has integrity sha512-"):
        vendor.vendor(lock, tmp_path / "vendor")
    assert not (tmp_path / "vendor" / "lib.min.js").exists()


def test_the_locked_tarball_is_unpacked_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tarball = _tarball(tmp_path)
    packs: list[str] = []

    def pack(name: str, version: str, folder: Path) -> Path:
        packs.append(f"{name}@{version}")
        return tarball

    monkeypatch.setattr(vendor, "_pack", pack)
    lock = _lock(tmp_path, vendor.integrity_of(tarball))
    destination = tmp_path / "vendor"
    assert vendor.vendor(lock, destination) == ["lib@1.0.0: lib.min.js, lib.LICENSE"]
    assert (destination / "lib.min.js").read_text() == "window.lib = 1;"
    assert vendor.missing_assets(destination, lock) == []
    assert vendor.vendor(lock, destination)[0].startswith("ui assets up to date")
    assert packs == ["lib@1.0.0"]


def test_the_repositorys_lock_names_what_the_page_loads() -> None:
    page = (Path(vendor.__file__).parent / "static" / "index.html").read_text()
    scripts = [name for name in vendor.vendor_files() if name.endswith(".js")]
    assert scripts and all(f"/static/vendor/{name}" in page for name in scripts)
    for package in vendor.lock_packages():
        assert package["integrity"].startswith("sha512-") and package["version"][0].isdigit()
