"""The customer-managed KMS key (and its alias) that encrypts the environment's alert topics.

EventBridge cannot publish to a topic encrypted with the AWS-managed `alias/aws/sns` key, whose
policy no one can change; a customer-managed key can let `events.amazonaws.com` (the rules that
publish alerts) and `sns.amazonaws.com` (SNS itself, delivering to encrypted endpoints) use it.
The account's root keeps full control so that IAM policies can grant the rest.
"""

from __future__ import annotations

from sm_pipelines.config.environment import EnvironmentConfig
from sm_pipelines.config.naming import Names
from sm_pipelines.iam.statements import Policy, policy
from sm_pipelines.infra.resources import Resource, retained

KEY_ID = "AlertsKey"
ALIAS_ID = "AlertsKeyAlias"
# What a publisher (or SNS delivering a message) does with the key of an encrypted topic.
USE_KEY = ["kms:Decrypt", "kms:GenerateDataKey*"]


def alias_name(env: EnvironmentConfig) -> str | None:
    """The alias bootstrap creates: `alerts.kms_key` when it names an alias; None when it names
    an existing key (an id or ARN, managed elsewhere) or is not set."""
    key = env.alerts.kms_key
    return key if key and key.startswith("alias/") else None


def key_policy(env: EnvironmentConfig) -> Policy:
    # No aws:SourceAccount condition on the service statements: the topics' own policies already
    # let only this account's rules publish, and KMS is not documented to see that key when
    # EventBridge or SNS calls it on a topic's behalf (a condition it never sees denies).
    return policy(
        [
            {
                "Sid": "AccountAdministersKey",
                "Effect": "Allow",
                "Principal": {"AWS": Names(env).account_root()},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "EventBridgePublishesAlerts",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": USE_KEY,
                "Resource": "*",
            },
            {
                "Sid": "SnsDeliversAlerts",
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": USE_KEY,
                "Resource": "*",
            },
        ]
    )


def alert_key(env: EnvironmentConfig) -> dict[str, Resource]:
    """The key and alias, or nothing when the environment names no alias to create."""
    alias = alias_name(env)
    if alias is None:
        return {}
    return {
        # Retained: topics and messages encrypted with it would become unreadable.
        KEY_ID: retained(
            {
                "Type": "AWS::KMS::Key",
                "Properties": {
                    "Description": f"Encrypts the sm-pipelines alert topics of {env.name}",
                    "EnableKeyRotation": True,
                    "KeyPolicy": key_policy(env),
                },
            }
        ),
        ALIAS_ID: {
            "Type": "AWS::KMS::Alias",
            "Properties": {"AliasName": alias, "TargetKeyId": {"Ref": KEY_ID}},
        },
    }
