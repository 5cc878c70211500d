"""No secret-looking value in what ships: compiled definitions and environment files.

Scanned with detect-secrets' own API and the plugins and filters of the committed
.secrets.baseline (what `make secrets` uses), and the scanner is shown to find planted secrets,
so a clean result means something.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from detect_secrets import SecretsCollection
from detect_secrets.settings import transient_settings

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
BASELINE = json.loads((ROOT / ".secrets.baseline").read_text(encoding="utf-8"))

# Planted values, assembled at run time so this file itself holds no secret-shaped literal.
FAKE_AWS_KEY_ID = "AKIA" + "Q7XH2M4P" + "9WZK3B5N"
FAKE_PRIVATE_KEY = "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIEow" + "IBAAKCAQEA7x\n"
FAKE_GITHUB_TOKEN = "ghp_" + "x7Kq2LmN9pR4sT6vW8yZ1aB3cD5eF0gH2iJ4"  # pragma: allowlist secret


def shipped_files() -> list[Path]:
    compiled = sorted((ROOT / "definitions" / "compiled").rglob("*.json"))
    environments = sorted((ROOT / "definitions" / "environments").glob("*.y*ml"))
    return compiled + environments


def findings(*paths: Path) -> list[str]:
    # A list, not a generator: a generator left half-read would keep these settings installed.
    with transient_settings(
        {"plugins_used": BASELINE["plugins_used"], "filters_used": BASELINE["filters_used"]}
    ):
        secrets = SecretsCollection()
        for path in paths:
            secrets.scan_file(str(path))
        return [f"{Path(f).name}:{s.line_number}: {s.type}" for f, s in secrets]


def test_baseline_accepts_no_findings() -> None:
    # False positives are allowlisted inline, where a reader sees them; the baseline stays empty.
    assert BASELINE["results"] == {}


def test_compiled_definitions_and_environments_hold_no_secrets() -> None:
    files = shipped_files()
    assert any(p.suffix == ".json" for p in files)
    assert any(p.suffix in (".yaml", ".yml") for p in files)
    assert list(findings(*files)) == []


def test_the_scanner_finds_planted_secrets(tmp_path: Path) -> None:
    leak = tmp_path / "leak.txt"
    leak.write_text(f"aws_access_key_id: {FAKE_AWS_KEY_ID}\n{FAKE_PRIVATE_KEY}", encoding="utf-8")
    found = " ".join(findings(leak))
    assert "AWS Access Key" in found
    assert "Private Key" in found


@pytest.mark.parametrize("where", ["variables", "tags"])
def test_a_value_in_an_environment_file_is_found(tmp_path: Path, where: str) -> None:
    # The filters pass secret *references* but not a token pasted where a reference should be.
    env = (ROOT / "definitions" / "environments" / "staging.yaml").read_text(encoding="utf-8")
    env = env.replace(f"\n{where}:\n", f"\n{where}:\n  GITHUB_TOKEN: {FAKE_GITHUB_TOKEN}\n", 1)
    assert FAKE_GITHUB_TOKEN in env
    leaky = tmp_path / "staging.yaml"
    leaky.write_text(env, encoding="utf-8")
    found = list(findings(leaky))
    assert any("GitHub Token" in line for line in found), found


def test_a_value_in_a_compiled_definition_is_found(tmp_path: Path) -> None:
    path = ROOT / "definitions" / "compiled" / "staging" / "llm-twin-ct.json"
    definition = json.loads(path.read_text(encoding="utf-8"))
    definition["Metadata"] = {"AWS_ACCESS_KEY_ID": FAKE_AWS_KEY_ID}
    leaky = tmp_path / "llm-twin-ct.json"
    leaky.write_text(json.dumps(definition, indent=2), encoding="utf-8")
    assert any("AWS Access Key" in line for line in findings(leaky))


def test_make_secrets_scans_tracked_and_new_files_but_not_ignored_ones(tmp_path: Path) -> None:
    """`make secrets` in a scratch repository: what `git ls-files` tracks, new files that are
    not committed yet, and never what .gitignore excludes (such as .venv)."""
    for name in ("Makefile", ".secrets.baseline"):
        (tmp_path / name).write_bytes((ROOT / name).read_bytes())
    (tmp_path / ".gitignore").write_text("ignored/\n", encoding="utf-8")
    (tmp_path / "clean.py").write_text("x = 1\n", encoding="utf-8")

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    def scan() -> subprocess.CompletedProcess[str]:
        # -o: the scratch repository has no .venv to set up; use this project's tools.
        command = ["make", "-s", "-o", ".venv/.setup-stamp", "secrets", f"BIN={BIN}"]
        return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)

    git("init", "-q")
    git("add", "Makefile", ".secrets.baseline", ".gitignore", "clean.py")
    assert scan().returncode == 0

    (tmp_path / "ignored").mkdir()
    (tmp_path / "ignored" / "leak.txt").write_text(f"key: {FAKE_AWS_KEY_ID}\n", encoding="utf-8")
    assert scan().returncode == 0

    (tmp_path / "new.txt").write_text(f"key: {FAKE_AWS_KEY_ID}\n", encoding="utf-8")
    done = scan()
    assert done.returncode != 0
    assert "new.txt" in done.stdout and "AWS Access Key" in done.stdout
