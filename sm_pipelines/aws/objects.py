"""The S3 objects upsert uploads (the code bundle, definitions too large to pass inline) and
teardown removes. Each carries the sm-pipelines marker tags, put with the object in the same
request, so teardown deletes exactly these and leaves anything else under the same prefixes.

Objects uploaded before objects were tagged (sm-pipelines versions without this module) carry no
tags. The choice: teardown never deletes an untagged object; it keeps it and reports how many it
kept. Upsert adopts the bundle it ships when it finds that bundle present but untagged: its keys
are derived from the content's hash (`<prefix>/code/<sha256>/...`), so only sm-pipelines writes
them, and the pipelines it upserts run that code, so it must be removable with them. Older
untagged bundles are left for a person to delete (teardown names the prefix and the count).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sm_pipelines.aws.clients import aws_errors, is_not_found
from sm_pipelines.aws.tags import MANAGED_BY, MANAGED_BY_TAG, as_list, as_query, marker_tags
from sm_pipelines.aws.tags import is_managed as tags_are_managed
from sm_pipelines.config.environment import EnvironmentConfig
from sm_pipelines.errors import AwsError

DELETE_BATCH = 1000  # S3 DeleteObjects takes at most 1,000 keys


def put_object(s3: Any, env: EnvironmentConfig, bucket: str, key: str, body: bytes) -> None:
    """Upload one object with the marker tags (one request: never an untagged moment)."""
    with aws_errors(f"s3 put s3://{bucket}/{key}"):
        s3.put_object(Bucket=bucket, Key=key, Body=body, Tagging=as_query(marker_tags(env)))


def object_tags(s3: Any, bucket: str, key: str) -> dict[str, str] | None:
    """The object's tags, or None when there is no such object."""
    action = f"s3 get_object_tagging s3://{bucket}/{key}"
    with aws_errors(action):
        try:
            answer = s3.get_object_tagging(Bucket=bucket, Key=key)
        except Exception as exc:
            if is_not_found(exc):
                return None
            raise
    # S3 always answers <Tagging><TagSet/></Tagging>; XML without it (an HTML page from a
    # proxy, say) must not read as "untagged".
    tag_set = answer.get("TagSet")
    if not isinstance(tag_set, list):
        raise AwsError(f"{action}: the answer holds no TagSet")
    return {t["Key"]: t["Value"] for t in tag_set}


def ownership(tags: dict[str, str] | None, env: EnvironmentConfig) -> str:
    """`absent`, `ours` (tagged for `env`), `other-environment` (tagged by sm-pipelines for
    another environment sharing the bucket and prefix) or `untagged` (anything else)."""
    if tags is None:
        return "absent"
    if tags_are_managed(tags, env):
        return "ours"
    if tags.get(MANAGED_BY_TAG) == MANAGED_BY:
        return "other-environment"
    return "untagged"


def adopt(
    s3: Any, env: EnvironmentConfig, bucket: str, key: str, body: Callable[[], bytes]
) -> bool:
    """Give an object at one of our content-addressed keys the marker tags, keeping its other
    tags; upload it when it is missing. True when something was written."""
    tags = object_tags(s3, bucket, key)
    state = ownership(tags, env)
    if state == "absent":
        put_object(s3, env, bucket, key, body())
        return True
    if state != "untagged":
        return False
    merged = {**(tags or {}), **marker_tags(env)}
    with aws_errors(f"s3 put_object_tagging s3://{bucket}/{key}"):
        s3.put_object_tagging(Bucket=bucket, Key=key, Tagging={"TagSet": as_list(merged)})
    return True


def delete_managed(s3: Any, env: EnvironmentConfig, bucket: str, prefix: str) -> tuple[int, int]:
    """Delete the objects under `prefix` tagged as ours for `env`; returns (deleted, kept)."""
    ours: list[str] = []
    kept = 0
    with aws_errors(f"s3 list_objects_v2 s3://{bucket}/{prefix}"):
        keys = [
            item["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for item in page.get("Contents", [])
        ]
    for key in keys:
        state = ownership(object_tags(s3, bucket, key), env)
        if state == "ours":
            ours.append(key)
        elif state != "absent":  # deleted meanwhile: nothing to keep
            kept += 1
    for start in range(0, len(ours), DELETE_BATCH):
        batch = ours[start : start + DELETE_BATCH]
        with aws_errors(f"s3 delete_objects s3://{bucket}/{prefix}"):
            response = s3.delete_objects(
                Bucket=bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True}
            )
        failed = response.get("Errors", [])
        if failed:
            first = failed[0]
            more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
            raise AwsError(
                f"s3 delete_objects s3://{bucket}/{first.get('Key', prefix)}: "
                f"{first.get('Code', 'Error')}: {first.get('Message', '')}{more}"
            )
    return len(ours), kept
