"""How a local job sees /opt/ml: the way its container would, or through path rewriting.

On Linux each job runs in a private mount namespace (`unshare -m` as root, `unshare -U -r -m`
in a user namespace otherwise) where its sandbox's `opt/ml` is bind-mounted at `/opt/ml`. A
script that reads `/opt/ml/processing/input/data.csv` literally, a `runproc.sh` that `cd`s into
`/opt/ml/processing/input/code`, a launcher under `/opt/ml/code` all work unchanged, and nothing
a job writes under /opt/ml reaches the host's (an empty mount point, created once, as root).
Where namespaces are unavailable (macOS, a locked-down container) the executor falls back to
rewriting container paths in arguments and variables into the sandbox, and says so once a run.

Inside a job, `python`, `python3` and `pip` are the image's: `python` is the interpreter mapped
to the image (`local.images`, else this one), and `pip install` installs what the
interpreter lacks into a per-image folder under the state (`images/<digest>/site-packages`,
on the job's PYTHONPATH), once, reused by later runs, as a framework container's
`requirements.txt` handling would; a package that cannot be had is one line naming it.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ML_ROOT = Path("/opt/ml")
# Run by `sh` inside the namespace: mount the sandbox over /opt/ml, then become the job.
MOUNT_SCRIPT = 'mount --bind "$1" /opt/ml || exit 125; shift; exec "$@"'
MOUNT_FAILED = 125


@functools.cache
def namespace_prefix() -> tuple[tuple[str, ...] | None, str]:
    """The command prefix that gives a job a private mount namespace, or None and why not."""
    if os.environ.get("SM_PIPELINES_SANDBOX", "") == "rewrite":
        return None, "SM_PIPELINES_SANDBOX=rewrite"
    if not sys.platform.startswith("linux"):
        return None, f"no mount namespaces on {sys.platform}"
    unshare = shutil.which("unshare")
    if unshare is None:
        return None, "no `unshare` command"
    if not ML_ROOT.is_dir():
        try:
            ML_ROOT.mkdir(parents=True)
        except OSError:
            return None, f"{ML_ROOT} does not exist and cannot be created as a mount point"
    candidates = []
    if os.geteuid() == 0:
        candidates.append((unshare, "-m", "--propagation", "private"))
    candidates.append((unshare, "-U", "-r", "-m", "--propagation", "private"))
    for prefix in candidates:
        try:
            probe = subprocess.run(
                [*prefix, "sh", "-c", f"mount -t tmpfs tmpfs {ML_ROOT}"],
                capture_output=True,
                timeout=20,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if probe.returncode == 0:
            return prefix, ""
    return None, "this system does not allow private mount namespaces"


def wrap(prefix: tuple[str, ...], ml_dir: Path, command: list[str]) -> list[str]:
    """`command` run with `ml_dir` mounted at /opt/ml."""
    return [*prefix, "sh", "-c", MOUNT_SCRIPT, "sh", str(ml_dir), *command]


def image_site(state_root: Path, image: str | None) -> Path:
    """Where `pip install` puts what a job of `image` installs."""
    digest = hashlib.sha256((image or "default").encode()).hexdigest()[:16]
    return state_root / "images" / digest / "site-packages"


_PIP_SHIM = '''#!{interpreter}
"""pip as a job of this image sees it: installs go to the image's own folder, once."""
import subprocess, sys
from importlib import metadata

TARGET = {target!r}


def _wanted(args):
    names, files, i = [], [], 0
    while i < len(args):
        if args[i] in ("-r", "--requirement") and i + 1 < len(args):
            files.append(args[i + 1]); i += 2; continue
        if not args[i].startswith("-"):
            names.append(args[i])
        i += 1
    for name in files:
        for line in open(name, encoding="utf-8"):
            line = line.split("#", 1)[0].strip()
            if line and not line.startswith("-"):
                names.append(line)
    return names


def _satisfied(requirement):
    try:
        from packaging.requirements import Requirement
    except ImportError:
        from pip._vendor.packaging.requirements import Requirement
    req = Requirement(requirement)
    for path in (None, [TARGET]):
        try:
            dist = metadata.distribution(req.name) if path is None else next(
                iter(metadata.distributions(name=req.name, path=path)), None)
        except metadata.PackageNotFoundError:
            dist = None
        if dist is not None and (
            not req.specifier or req.specifier.contains(dist.version, prereleases=True)
        ):
            return True
    return False


args = sys.argv[1:]
if not args or args[0] != "install":
    sys.exit(subprocess.call([sys.executable, "-m", "pip", *args]))
missing = [r for r in _wanted(args[1:]) if not _satisfied(r)]
if not missing:
    print("pip: already satisfied:", ", ".join(_wanted(args[1:])) or "nothing to install")
    sys.exit(0)
done = subprocess.run(
    [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
     "--target", TARGET, *missing], capture_output=True, text=True)
if done.returncode != 0:
    lines = [l.strip() for l in (done.stderr or done.stdout).splitlines() if l.strip()]
    reason = lines[-1] if lines else "pip failed"
    print("pip: cannot install " + ", ".join(missing) + " (" + reason + ")", file=sys.stderr)
    sys.exit(1)
print("pip: installed", ", ".join(missing), "for this image")
'''


def tool_dir(sandbox: Path, state_root: Path, interpreter: str, image: str | None) -> Path:
    """A folder to put first on the job's PATH: `python`, `python3` and `pip` of the image."""
    tools = sandbox / ".bin"
    tools.mkdir(parents=True, exist_ok=True)
    for name in ("python", "python3"):
        # A script that execs the interpreter by its own path, not a symlink: a virtual
        # environment's python run through a symlink elsewhere finds no pyvenv.cfg beside it
        # and starts without the environment's packages.
        # `python -m pip` (the SDK's FrameworkProcessor launcher installs requirements so)
        # is the image's pip too.
        launcher = tools / name
        launcher.unlink(missing_ok=True)
        launcher.write_text(
            "#!/bin/sh\n"
            'if [ "$1" = "-m" ] && { [ "$2" = "pip" ] || [ "$2" = "pip3" ]; }; then\n'
            f'    shift 2; exec "{tools / "pip"}" "$@"\n'
            "fi\n"
            f'exec "{interpreter}" "$@"\n',
            encoding="utf-8",
        )
        launcher.chmod(0o755)
    site = image_site(state_root, image)
    site.mkdir(parents=True, exist_ok=True)
    pip = tools / "pip"
    pip.write_text(_PIP_SHIM.format(interpreter=interpreter, target=str(site)), encoding="utf-8")
    pip.chmod(0o755)
    (tools / "pip3").unlink(missing_ok=True)
    (tools / "pip3").symlink_to(pip)
    return tools
