"""Vendor the view's browser libraries (`make ui-assets`): for each package of assets.lock.toml,
`npm pack <name>@<version>` from the npm registry npm is configured with, check the tarball's
sha512 against the integrity recorded in the lock (the registry's `dist.integrity` is that same
`sha512-<base64>` of the .tgz), and copy the listed files into static/vendor/ (git-ignored).

Nothing is fetched at run time: the page loads these files from the package, so the view works
where nothing outside 127.0.0.1 is reachable. A stamp (the lock's own sha256) makes a second run
a no-op; a changed lock fetches again.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from sm_pipelines.errors import UserError

HERE = Path(__file__).parent
LOCK = HERE / "assets.lock.toml"
VENDOR = HERE / "static" / "vendor"
_STAMP = ".lock-sha256"


def lock_packages(lock: Path = LOCK) -> list[dict[str, Any]]:
    return tomllib.loads(lock.read_text(encoding="utf-8"))["packages"]


def vendor_files(lock: Path = LOCK) -> list[str]:
    """The file names the page loads from static/vendor/."""
    return [target for package in lock_packages(lock) for target in package["files"].values()]


def missing_assets(vendor: Path = VENDOR, lock: Path = LOCK) -> list[str]:
    return [name for name in vendor_files(lock) if not (vendor / name).is_file()]


def integrity_of(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def _pack(name: str, version: str, folder: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise UserError("npm is not installed: the UI assets come from the npm registry (Node.js)")
    done = subprocess.run(
        [npm, "pack", f"{name}@{version}", "--pack-destination", str(folder), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise UserError(f"npm pack {name}@{version} failed: {last}")
    filename = json.loads(done.stdout)[0]["filename"]
    return folder / filename


def _extract(tarball: Path, files: dict[str, str], destination: Path) -> None:
    with tarfile.open(tarball, "r:gz") as archive:
        for member_name, target in files.items():
            member = archive.getmember(member_name)
            source = archive.extractfile(member) if member.isfile() else None
            if source is None:
                raise UserError(f"{tarball.name}: {member_name} is not a file")
            (destination / target).write_bytes(source.read())


def vendor(lock: Path = LOCK, destination: Path = VENDOR) -> list[str]:
    """Fetch, check and copy every locked package; returns what was done, one line each."""
    stamp = hashlib.sha256(lock.read_bytes()).hexdigest()
    stamp_file = destination / _STAMP
    fresh = stamp_file.is_file() and stamp_file.read_text(encoding="utf-8").strip() == stamp
    if fresh and not missing_assets(destination, lock):
        return [f"ui assets up to date in {destination}"]
    destination.mkdir(parents=True, exist_ok=True)
    done = []
    with tempfile.TemporaryDirectory(prefix="ui-assets-") as tmp:
        for package in lock_packages(lock):
            name, version = package["name"], package["version"]
            tarball = _pack(name, version, Path(tmp))
            found = integrity_of(tarball)
            if found != package["integrity"]:
                raise UserError(
                    f"{name}@{version}: the registry's tarball has integrity {found}, not the "
                    f"{package['integrity']} recorded in {lock.name}"
                )
            _extract(tarball, package["files"], destination)
            done.append(f"{name}@{version}: {', '.join(package['files'].values())}")
    stamp_file.write_text(stamp + "\n", encoding="utf-8")
    return done


def main() -> int:
    try:
        for line in vendor():
            print(line)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
