"""Fuzz and fault suite of the tools themselves: YAML mutated from the real definitions, hostile
YAML and JSON files, plaintext secrets, values SageMaker would refuse, damaged state records,
registry numbering, and read-only or full disks. Every case asserts the exact line (or the
exact shape of every line) and that nothing that existed was lost.

The ETL's hostile file trees are in tests/components/test_etl_hostile.py, the RAG service's
hostile requests in tests/serving/test_rag_hostile.py, and fault-injecting AWS endpoints in
tests/test_aws_faults.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from sm_pipelines.cli import main
from sm_pipelines.local import registry
from sm_pipelines.local.state import LocalState
from tests.conftest import validate_lines

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests/fixtures/definitions"
PIPELINE = "pipelines/llm-twin-ct.yaml"
STAGING = "environments/staging.yaml"


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"fixture drifted: {old!r}"
    path.write_text(text.replace(old, new), encoding="utf-8")


# -- YAML mutations generated from the real pipeline -------------------------------------------
_STEPS = yaml.safe_load((FIXTURE / PIPELINE).read_text(encoding="utf-8"))["steps"]
_REQUIRED = ("name", "kind", "display_name", "description")


def _mutations() -> list[Any]:
    cases = []
    for index, step in enumerate(_STEPS):
        for key in _REQUIRED:
            cases.append(pytest.param(index, key, "delete", id=f"{step['name']}-{key}-deleted"))
        cases.append(pytest.param(index, "display_name", [1, 2], id=f"{step['name']}-list"))
        cases.append(pytest.param(index, "description", {"a": 1}, id=f"{step['name']}-mapping"))
        cases.append(pytest.param(index, "bogus_key", "x", id=f"{step['name']}-unknown-key"))
    return cases


@pytest.mark.parametrize(("index", "key", "value"), _mutations())
def test_mutated_step_is_one_located_line(
    definitions: Path, capsys: pytest.CaptureFixture[str], index: int, key: str, value: Any
) -> None:
    path = definitions / PIPELINE
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    step = data["steps"][index]
    if value == "delete":
        del step[key]
    else:
        step[key] = value
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    code, lines = validate_lines(definitions, capsys)
    assert code == 2
    where = f"steps[{index}]"
    expected = {
        ("delete", "kind"): "missing 'kind' field",
        ("delete",): "required field is missing",
        ("bogus_key",): "unknown key 'bogus_key'",
        ("list",): "expected a string, got a list",
        ("mapping",): "expected a string, got a mapping",
    }
    if isinstance(value, list | dict):
        message = expected[("list" if isinstance(value, list) else "mapping",)]
    else:
        message = expected.get((value, key)) or expected.get((value,)) or expected[(key,)]
    ours = [line for line in lines if f": {where}" in line]
    assert ours, lines
    assert all(line.startswith("error: definitions/pipelines/llm-twin-ct.yaml:") for line in lines)
    assert any(message in line for line in ours), ours


# -- hostile YAML files ------------------------------------------------------------------------
_BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(6)
)

HOSTILE_YAML = [
    pytest.param(
        _BOMB,
        "definitions/pipelines/llm-twin-ct.yaml:6: expands to over 200,000 values through "
        "aliases (*name)",
        id="alias-bomb",
    ),
    pytest.param(
        "name: " + "[" * 200 + "]" * 200 + "\n",
        "definitions/pipelines/llm-twin-ct.yaml:1: nested deeper than 64",
        id="deep-nesting",
    ),
    pytest.param(
        "name: " + "[" * 5000 + "]" * 5000 + "\n",
        "definitions/pipelines/llm-twin-ct.yaml: nested deeper than 64",
        id="deeper-than-the-parser",
    ),
    pytest.param(
        "? [a, b]\n: c\n",
        "definitions/pipelines/llm-twin-ct.yaml:1: invalid YAML: a key must be a plain value, "
        "not a list or mapping",
        id="complex-key",
    ),
    pytest.param(
        "name: x\nname: y\n",
        "definitions/pipelines/llm-twin-ct.yaml:2: invalid YAML: duplicate key 'name' (first at "
        "line 1)",
        id="duplicate-key",
    ),
    pytest.param(
        b"\x00\x01\x02binary\xff",
        "definitions/pipelines/llm-twin-ct.yaml: not UTF-8 text (invalid start byte at byte 9)",
        id="binary",
    ),
    pytest.param(
        "name: !!python/object/apply:os.system [echo pwned]\n",
        "definitions/pipelines/llm-twin-ct.yaml:1: invalid YAML: could not determine a "
        "constructor for the tag 'tag:yaml.org,2002:python/object/apply:os.system'",
        id="python-tag",
    ),
    pytest.param(
        "name: a\n\tkind: b\n",
        "definitions/pipelines/llm-twin-ct.yaml:2: invalid YAML: found character '\\t' that "
        "cannot start any token",
        id="tab-indent",
    ),
    pytest.param(
        "- just\n- a list\n",
        "definitions/pipelines/llm-twin-ct.yaml:1: expected a mapping at the top, found list",
        id="top-level-list",
    ),
    pytest.param(
        "# only a comment\n",
        "definitions/pipelines/llm-twin-ct.yaml: file is empty; expected a mapping",
        id="comment-only",
    ),
]


@pytest.mark.parametrize(("content", "expected"), HOSTILE_YAML)
def test_hostile_yaml_is_one_line(
    definitions: Path, capsys: pytest.CaptureFixture[str], content: str | bytes, expected: str
) -> None:
    path = definitions / PIPELINE
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    code, lines = validate_lines(definitions, capsys)
    assert code == 2
    assert f"error: {expected}" in lines, lines


def test_huge_yaml_is_refused_unread(definitions: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (definitions / PIPELINE).write_text("# " + "x" * (9 * 1024 * 1024), encoding="utf-8")
    code, lines = validate_lines(definitions, capsys)
    assert code == 2
    assert "error: definitions/pipelines/llm-twin-ct.yaml: is over 8,388,608 bytes" in lines


def test_a_folder_named_like_yaml_is_one_line(
    definitions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (definitions / "pipelines/folder.yaml").mkdir()
    code, lines = validate_lines(definitions, capsys)
    assert (code, lines) == (2, ["error: definitions/pipelines/folder.yaml: not a regular file"])


def test_yml_beside_yaml_is_refused_not_silently_chosen(
    definitions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(definitions / STAGING, definitions / "environments/staging.yml")
    code, lines = validate_lines(definitions, capsys)
    assert code == 2
    assert lines[0] == (
        "error: definitions/environments/staging.yml: staging.yaml defines the same "
        "environment; keep one of the two"
    )


def test_merge_keys_work_and_explicit_keys_win(
    definitions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = definitions / STAGING
    _replace(
        path,
        "images:\n  processing: {repository: llm-twin-processing, tag: latest}\n",
        "x-image: &image {repository: llm-twin-processing, tag: latest}\n"
        "images:\n  processing:\n    <<: *image\n    tag: pinned\n",
    )
    # x-image is not a field: the merge must have worked for the error to be only this one.
    code, lines = validate_lines(definitions, capsys)
    assert code == 2
    assert lines == [
        "error: definitions/environments/staging.yaml:9: x-image: unknown key 'x-image' "
        "(did you mean 'image'?)"
    ]
    from sm_pipelines.files import load_yaml

    images = load_yaml(path).data["images"]["processing"]
    assert images == {"repository": "llm-twin-processing", "tag": "pinned"}


# -- plaintext secrets -------------------------------------------------------------------------
_KEY = "rKs5GHaZedeeBMmZ/Vq7Say/fZzNdC6tzwObCunQ"  # pragma: allowlist secret
SECRETS = [
    pytest.param(
        "  BASE_MODEL_ID: meta-llama/Llama-3.1-8B-Instruct\n",
        "  BASE_MODEL_ID: meta-llama/Llama-3.1-8B-Instruct\n  DB_PASSWORD: hunter2\n",
        "variables.DB_PASSWORD: DB_PASSWORD holds a literal value",
        id="secret-named-variable",
    ),
    pytest.param(
        "  BASE_MODEL_ID: meta-llama/Llama-3.1-8B-Instruct\n",
        "  BASE_MODEL_ID: meta-llama/Llama-3.1-8B-Instruct\n"
        "  MONGO: mongodb://app:s3cret@db.example:27017/\n",  # pragma: allowlist secret
        "variables.MONGO: the value looks like a URL with a password",
        id="url-with-password",
    ),
    pytest.param(
        "  BASE_MODEL_ID: meta-llama/Llama-3.1-8B-Instruct\n",
        # pragma: allowlist nextline secret
        "  BASE_MODEL_ID: meta-llama/Llama-3.1-8B-Instruct\n  KEY_ID: AKIAIOSFODNN7EXAMPLE\n",
        "variables.KEY_ID: the value looks like an AWS access key id",
        id="aws-access-key",
    ),
    pytest.param(
        "  BASE_MODEL_ID: meta-llama/Llama-3.1-8B-Instruct\n",
        f"  BASE_MODEL_ID: meta-llama/Llama-3.1-8B-Instruct\n  BLOB: '{_KEY}'\n",
        "variables.BLOB: the value holds a high-entropy string (40 characters)",
        id="high-entropy",
    ),
    pytest.param(
        "  BASE_MODEL_ID: meta-llama/Llama-3.1-8B-Instruct\n",
        "  BASE_MODEL_ID: meta-llama/Llama-3.1-8B-Instruct\n  GH: ghp_" + "a1B2c3D4e5" * 4 + "\n",
        "variables.GH: the value looks like a GitHub token",
        id="github-token",
    ),
    pytest.param(
        "  BASE_MODEL_ID: meta-llama/Llama-3.1-8B-Instruct\n",
        "  BASE_MODEL_ID: meta-llama/Llama-3.1-8B-Instruct\n  OPENAI: sk-" + "Ab1" * 12 + "\n",
        "variables.OPENAI: the value looks like an API key (sk-...)",
        id="sk-key",
    ),
]


@pytest.mark.parametrize(("old", "new", "expected"), SECRETS)
def test_plaintext_secrets_never_reach_a_definition(
    definitions: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, expected: str
) -> None:
    _replace(definitions / STAGING, old, new)
    for command in ("validate", "build"):
        code = main(["--definitions", str(definitions), command])
        err = capsys.readouterr().err.splitlines()
        assert code == 2
        assert len(err) == 1 and expected in err[0] and "secrets never go in definitions" in err[0]
    assert not (definitions / "compiled").exists()


@pytest.mark.parametrize(
    "value",
    [
        "  OPIK_API_KEY_SECRET: secretsmanager:llm-twin/opik#key\n",
        "  MAX_NEW_TOKENS: '256'\n",
        "  MODEL_ID: HuggingFaceTB/SmolLM2-135M-Instruct\n",
        "  DIGEST_NOTE: s3://llm-twin-staging-artifacts/llm-twin/code/latest/\n",
    ],
)
def test_references_and_ordinary_values_are_not_secrets(
    definitions: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    _replace(
        definitions / STAGING,
        "  BASE_MODEL_ID: meta-llama/Llama-3.1-8B-Instruct\n",
        "  BASE_MODEL_ID: meta-llama/Llama-3.1-8B-Instruct\n" + value,
    )
    assert validate_lines(definitions, capsys) == (0, [])


# -- values SageMaker would refuse -------------------------------------------------------------
VALUES = [
    pytest.param(
        STAGING,
        "    TrainMaxSteps: -1\n",
        "    TrainMaxSteps: -1\n    LearningRate: .nan\n",
        "parameter_defaults.llm-twin-ct.LearningRate: nan is not a finite number",
        id="nan-parameter-default",
    ),
    pytest.param(
        STAGING,
        "    TrainMaxSteps: -1\n",
        "    TrainMaxSteps: -1\n    LearningRate: .inf\n",
        "parameter_defaults.llm-twin-ct.LearningRate: inf is not a finite number",
        id="inf-parameter-default",
    ),
    pytest.param(
        STAGING,
        "{repository: llm-twin-processing, tag: latest}",
        "{repository: llm-twin-processing, tag: 'bad tag!;$(x)'}",
        "images.processing.tag: expected an image tag",
        id="image-tag",
    ),
    pytest.param(
        STAGING,
        "{repository: llm-twin-processing, tag: latest}",
        "{repository: 'Bad Repo', tag: latest}",
        "images.processing.repository: expected an ECR repository name",
        id="repository-name",
    ),
]


@pytest.mark.parametrize(("file", "old", "new", "expected"), VALUES)
def test_values_are_checked_against_sagemakers_constraints(
    definitions: Path,
    capsys: pytest.CaptureFixture[str],
    file: str,
    old: str,
    new: str,
    expected: str,
) -> None:
    _replace(definitions / file, old, new)
    code, lines = validate_lines(definitions, capsys)
    assert code == 2
    assert len(lines) == 1 and expected in lines[0], lines


def test_nan_pipeline_parameter_default(
    definitions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = definitions / PIPELINE
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    name, spec = next((n, s) for n, s in data["parameters"].items() if s["type"] == "float")
    spec["default"] = float("nan")
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    code, lines = validate_lines(definitions, capsys)
    assert code == 2
    assert any(f"parameters.{name}" in line and "not a finite number" in line for line in lines)


@pytest.mark.parametrize("tag", ["bad tag!;$(x)", "-leading", "a" * 129, "", "x/y"])
def test_a_bad_image_tag_is_refused_before_any_aws_call(
    definitions: Path, capsys: pytest.CaptureFixture[str], tag: str
) -> None:
    code = main(
        ["--definitions", str(definitions), "upsert", "--env", "staging", f"--image-tag={tag}"]
    )
    err = capsys.readouterr().err.splitlines()
    assert code == 2
    assert err == [
        f"error: --image-tag {tag!r} is not an image tag (1-128 of letters, digits, "
        "_ . -; not first . or -)"
    ]


# -- compiled definitions that are not what they claim -----------------------------------------
def _condition_step(arguments: Any) -> dict[str, Any]:
    return {
        "Version": "2020-12-01",
        "Steps": [{"Name": "c", "Type": "Condition", "Arguments": arguments}],
    }


DEFINITIONS = [
    pytest.param(
        b"\x89PNG\r\n\x1a\n\x00\x00", "not a pipeline definition (not UTF-8 text)", id="binary"
    ),
    pytest.param(b"[1, 2, 3]", "not a pipeline definition (no Steps list)", id="list"),
    pytest.param(b"{}", "not a pipeline definition (no Steps list)", id="empty-object"),
    pytest.param(b'{"Steps": {}}', "not a pipeline definition (no Steps list)", id="steps-object"),
    pytest.param(
        b"{not json",
        "not valid JSON: Expecting property name enclosed in double quotes at line 1 column 2",
        id="broken-json",
    ),
    pytest.param(
        b'{"Steps": [' * 3000 + b"]}" * 3000,
        "not valid JSON: nested deeper than 64",
        id="deep-json",
    ),
    pytest.param(b'{"Steps": [], "x": NaN}', "not valid JSON: NaN is not JSON", id="nan"),
    pytest.param(
        json.dumps(_condition_step([1, 2])).encode(),
        "step 'c': Arguments must be an object, not a list",
        id="condition-arguments-list",
    ),
    pytest.param(
        json.dumps(_condition_step({"Conditions": "x"})).encode(),
        "step 'c': Arguments.Conditions must be a list of objects",
        id="conditions-string",
    ),
    pytest.param(
        json.dumps(_condition_step({"Conditions": [[1]]})).encode(),
        "step 'c': Arguments.Conditions must be a list of objects",
        id="condition-is-a-list",
    ),
    pytest.param(
        json.dumps({"Steps": [{"Name": "a", "Type": "Fail", "DependsOn": "b"}]}).encode(),
        "step 'a': DependsOn must be a list of names",
        id="depends-on-string",
    ),
    pytest.param(
        json.dumps({"Steps": [{"Name": "a", "Type": "Fail", "DependsOn": ["zz"]}]}).encode(),
        "step 'a' refers to unknown step(s) ['zz']",
        id="depends-on-unknown",
    ),
    pytest.param(
        json.dumps({"Steps": [{"Type": "Fail"}]}).encode(), "every step needs a Name", id="no-name"
    ),
    pytest.param(
        json.dumps({"Steps": [{"Name": "a", "Type": "Fail"}] * 2}).encode(),
        "step name 'a' is used twice",
        id="name-twice",
    ),
]


@pytest.mark.parametrize(("content", "expected"), DEFINITIONS)
def test_a_bad_definition_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, expected: str
) -> None:
    path = tmp_path / "def.json"
    path.write_bytes(content)
    code = main(["run", "--local", "--definition", str(path), "--state", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert code == 2
    assert err == f"error: {path}: {expected}\n"


# -- damaged state: quarantined, never blocking, never lost ------------------------------------
_FAIL = {
    "Version": "2020-12-01",
    "Steps": [{"Name": "stop", "Type": "Fail", "Arguments": {"ErrorMessage": "done"}}],
}


def _run_fail(tmp_path: Path, state: Path) -> int:
    path = tmp_path / "fail.json"
    path.write_text(json.dumps(_FAIL), encoding="utf-8")
    return main(["run", "--local", "--quiet", "--definition", str(path), "--state", str(state)])


DAMAGED = [
    pytest.param(b"", id="empty"),
    pytest.param(b'{"id": "abc", "pipel', id="truncated"),
    pytest.param(b"\xff\xfe", id="not-utf8"),
    pytest.param(b"[]", id="list"),
    pytest.param(b'{"id": "x"}', id="missing-fields"),
    pytest.param(b'{"id": "x", "steps": {"a": {"bogus": 1}}}', id="bad-step"),
]


@pytest.mark.parametrize("content", DAMAGED)
def test_a_damaged_execution_record_never_blocks_a_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    state = tmp_path / "state"
    record = state / "executions/oldoldoldold/execution.json"
    record.parent.mkdir(parents=True)
    record.write_bytes(content)
    assert _run_fail(tmp_path, state) == 1  # the Fail step fails the run, as it should
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"WARNING {record}:" in err
    moved = list(record.parent.glob("execution.json.damaged-*"))
    assert len(moved) == 1 and moved[0].read_bytes() == content  # kept, not lost
    assert main(["executions", "--state", str(state)]) == 0
    out = capsys.readouterr().out
    assert out.count("Failed") == 1


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{",
        b'{"created": "yesterday", "execution_id": "x", "properties": {}}',
        b"[1]",
        b'{"created": "2026-01-01T00:00:00+00:00", "execution_id": "x", "properties": []}',
    ],
    ids=["empty", "truncated", "bad-date", "list", "properties-list"],
)
def test_a_garbled_cache_entry_is_a_miss_not_a_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    from sm_pipelines.local import cache

    state = LocalState(tmp_path)
    path = state.cache_dir / "p" / "s" / "k.json"
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    assert cache.lookup(state, "p", "s", "k", "P30D") is None
    assert not path.exists()
    assert len(list(path.parent.glob("k.json.damaged-*"))) == 1
    assert f"WARNING {path}:" in capsys.readouterr().err


def _register(state: LocalState, group: str = "g") -> dict[str, Any]:
    return registry.register(state, group, {"ModelApprovalStatus": "Approved"}, "us-east-1", "1")


def test_a_missing_lower_version_never_lets_a_new_one_overwrite(tmp_path: Path) -> None:
    state = LocalState(tmp_path)
    for _ in range(3):
        _register(state)
    (state.registry_dir / "g" / "1.json").unlink()
    kept = (state.registry_dir / "g" / "3.json").read_bytes()
    assert _register(state)["ModelPackageVersion"] == 4
    assert (state.registry_dir / "g" / "3.json").read_bytes() == kept
    assert [v["ModelPackageVersion"] for v in registry.versions(state, "g")] == [2, 3, 4]


def test_a_damaged_version_is_moved_aside_and_its_number_never_reused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = LocalState(tmp_path)
    _register(state)
    _register(state)
    (state.registry_dir / "g" / "2.json").write_text("{garbage", encoding="utf-8")
    assert [v["ModelPackageVersion"] for v in registry.versions(state, "g")] == [1]
    assert "WARNING" in capsys.readouterr().err
    assert _register(state)["ModelPackageVersion"] == 3
    assert main(["models", "--state", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "v1 " in out and "v3 " in out and "v2 " not in out


def test_versions_registered_at_once_are_all_distinct(tmp_path: Path) -> None:
    state = LocalState(tmp_path)
    numbers: list[int] = []
    threads = [
        threading.Thread(target=lambda: numbers.append(_register(state)["ModelPackageVersion"]))
        for _ in range(12)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(numbers) == list(range(1, 13))


def test_versions_registered_by_two_processes_are_distinct(tmp_path: Path) -> None:
    script = (
        "import sys\nfrom pathlib import Path\nfrom sm_pipelines.local import registry\n"
        "from sm_pipelines.local.state import LocalState\n"
        "s = LocalState(Path(sys.argv[1]))\n"
        "for _ in range(10):\n"
        "    registry.register(s, 'g', {'ModelApprovalStatus': 'Approved'}, 'us-east-1', '1')\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path)]) for _ in range(3)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0]
    versions = registry.versions(LocalState(tmp_path), "g")
    assert [v["ModelPackageVersion"] for v in versions] == list(range(1, 31))


# -- read-only and full disks ------------------------------------------------------------------
def _can_mount() -> str | None:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return "needs root and unshare to mount a private tmpfs"
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
        capture_output=True,
        check=False,
    )
    return None if probe.returncode == 0 else "this OS refuses a private tmpfs mount"


@pytest.mark.parametrize(
    ("options", "reason"),
    [("ro,size=1m", "Read-only file system"), ("size=4k", "No space left on device")],
    ids=["read-only", "full"],
)
def test_a_state_folder_on_a_read_only_or_full_disk_is_one_line(
    tmp_path: Path, options: str, reason: str
) -> None:
    why = _can_mount()
    if why:
        pytest.skip(why)
    definition = tmp_path / "fail.json"
    # A message long enough that 4 KiB cannot hold the execution record.
    payload = {**_FAIL, "Padding": "x" * 20000}
    definition.write_text(json.dumps(payload), encoding="utf-8")
    mount = tmp_path / "disk"
    mount.mkdir()
    command = (
        f"mount -t tmpfs -o {options} tmpfs {mount} && "
        f"{sys.executable} -m sm_pipelines run --local --quiet --definition {definition} "
        f"--state {mount}/state"
    )
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", command],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO,
    )
    assert done.returncode == 3, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {mount}/state"), lines
    assert lines[0].endswith(f": {reason}")


# -- the one top-level handler -----------------------------------------------------------------
def test_a_bug_is_one_line_and_exit_3_and_debug_shows_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from sm_pipelines.local import registry as local_registry

    def broken(state: Any) -> str:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(local_registry, "models_table", broken)
    assert main(["models", "--state", str(tmp_path)]) == 3
    assert capsys.readouterr().err == (
        "error: internal error: RuntimeError: boom second line (run again with --debug for the "
        "traceback)\n"
    )
    with pytest.raises(RuntimeError):
        main(["--debug", "models", "--state", str(tmp_path)])
