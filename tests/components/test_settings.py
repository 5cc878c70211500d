"""Settings from the environment, and secret references resolved in AWS (moto in process)."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from components.common.job import JobError
from components.common.settings import llm_settings, mongo_settings, qdrant_settings, setting

pytestmark = pytest.mark.usefixtures("fake_aws")
# Fake values assembled at run time, so the secret scanner sees no secret-shaped literal here.
PLAIN = "-".join(["plain", "value"])
SSM_VALUE = "-".join(["sk", "ssm"])
VARIABLE = "_".join(["MONGODB", "URI", "SECRET"])
NOT_JSON = " ".join(["no", "braces"])


@pytest.fixture
def aws() -> object:
    with mock_aws():
        secrets = boto3.client("secretsmanager")
        secrets.create_secret(
            Name="llm-twin/mongodb", SecretString=json.dumps({"uri": "mongodb://db:27017/"})
        )
        secrets.create_secret(Name="llm-twin/plain", SecretString=PLAIN)
        secrets.create_secret(Name="llm-twin/not-json", SecretString=NOT_JSON)
        boto3.client("ssm").put_parameter(
            Name="/llm-twin/llm-api-key", Value=SSM_VALUE, Type="SecureString"
        )
        yield


def test_secrets_manager_json_key_and_plain_value(aws: object) -> None:
    env = {"MONGODB_URI_SECRET": "secretsmanager:llm-twin/mongodb#uri"}
    assert mongo_settings(env).uri == "mongodb://db:27017/"
    assert mongo_settings(env).database == "llm_twin"
    assert setting("X", {"X_SECRET": "secretsmanager:llm-twin/plain"}) == PLAIN


def test_ssm_parameter_is_decrypted(aws: object) -> None:
    env = {
        "LLM_API_BASE": "https://llm.example/v1",
        "LLM_API_KEY_SECRET": "ssm:/llm-twin/llm-api-key",
    }
    settings = llm_settings(env)
    assert settings is not None and settings.api_key == SSM_VALUE
    assert (settings.api_base, settings.model) == ("https://llm.example/v1", "gpt-4o-mini")


def test_a_plain_value_wins_over_its_secret_reference(aws: object) -> None:
    env = {"MONGODB_URI": "mongodb://direct/", "MONGODB_URI_SECRET": "secretsmanager:missing"}
    assert mongo_settings(env).uri == "mongodb://direct/"


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        (
            "secretsmanager:llm-twin/absent",
            "MONGODB_URI_SECRET: cannot read secretsmanager:llm-twin/absent: "
            "ResourceNotFoundException",
        ),
        (
            "secretsmanager:llm-twin/mongodb#password",
            "MONGODB_URI_SECRET: secret llm-twin/mongodb has no key 'password'",
        ),
        (
            "secretsmanager:llm-twin/not-json#uri",
            "MONGODB_URI_SECRET: secret llm-twin/not-json is not JSON",
        ),
        (
            "ssm:/llm-twin/absent",
            "MONGODB_URI_SECRET: cannot read ssm:/llm-twin/absent: ParameterNotFound",
        ),
        (
            "vault:thing",
            f"{VARIABLE}='vault:thing': expected secretsmanager:<id>[#json_key] or ssm:<name>",
        ),
        ("secretsmanager:", "MONGODB_URI_SECRET: 'secretsmanager:' names no secret"),
    ],
)
def test_bad_references_are_one_line_errors(aws: object, reference: str, message: str) -> None:
    with pytest.raises(JobError) as raised:
        mongo_settings({"MONGODB_URI_SECRET": reference})
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_missing_settings_name_the_variable() -> None:
    with pytest.raises(
        JobError, match=r"^MONGODB_URI is not set \(set MONGODB_URI, or MONGODB_URI_SECRET"
    ):
        mongo_settings({})
    with pytest.raises(JobError, match=r"^QDRANT_URL is not set"):
        qdrant_settings({})
    with pytest.raises(JobError, match=r"^LLM_API_KEY is not set"):
        llm_settings({"LLM_API_BASE": "http://127.0.0.1:9/v1"})
    with pytest.raises(JobError, match=r"^LLM_TIMEOUT='soon': expected seconds"):
        llm_settings({"LLM_API_BASE": "http://x/v1", "LLM_API_KEY": "k", "LLM_TIMEOUT": "soon"})
    assert llm_settings({"LLM_API_KEY": "k"}) is None  # no base: the offline generator


def test_qdrant_settings(aws: object) -> None:
    local = qdrant_settings({"QDRANT_PATH": "/tmp/q", "QDRANT_COLLECTION_PREFIX": "dev_"})
    assert (local.path, local.url, local.api_key, local.prefix) == ("/tmp/q", None, None, "dev_")
    server = qdrant_settings(
        {
            "QDRANT_URL": "https://q.example:6333",
            "QDRANT_API_KEY_SECRET": "secretsmanager:llm-twin/plain",
        }
    )
    assert (server.url, server.api_key) == ("https://q.example:6333", PLAIN)


def test_the_judge_resolves_its_key_through_secrets_manager(
    aws: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from components.evaluate.judge import Judge

    for name in ("LLM_API_KEY", "LLM_MODEL", "LLM_JUDGE_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LLM_API_BASE", "https://llm.example/v1/")
    monkeypatch.setenv("LLM_API_KEY_SECRET", "secretsmanager:llm-twin/plain")
    judge = Judge.from_environment()
    assert judge is not None
    assert (judge.api_base, judge.api_key, judge.model) == (
        "https://llm.example/v1",
        PLAIN,
        "gpt-4o-mini",
    )
    monkeypatch.setenv("LLM_JUDGE_MODEL", "judge-large")
    assert Judge.from_environment().model == "judge-large"
    monkeypatch.delenv("LLM_API_BASE")
    assert Judge.from_environment() is None
