"""How the compiler loads the SDK and its sessions: the collector is paused only while the SDK
imports, and build sessions share botocore's data loader without sharing region or state."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_PROBE = """
import gc, sys
{before}
from sm_pipelines.compile.sdk import load_sdk
load_sdk()
assert "sagemaker.workflow.pipeline" in sys.modules
frozen = gc.get_freeze_count()
load_sdk()  # a second call imports and freezes nothing more
print(gc.isenabled(), frozen > 10000, gc.get_freeze_count() == frozen)
"""


def _probe(before: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE.format(before=before)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.strip()


def test_the_collector_is_back_on_after_the_sdk_import_and_the_sdk_is_frozen() -> None:
    assert _probe("") == "True True True"


def test_a_collector_switched_off_by_the_caller_stays_off() -> None:
    assert _probe("gc.disable()") == "False True True"


def test_build_sessions_share_the_loader_but_keep_their_own_region() -> None:
    from sm_pipelines.compile.session import _shared_loader, offline_session

    with offline_session("eu-west-1", "bucket-a") as first:
        paths = list(_shared_loader().search_paths)
        first_client = first.sagemaker_client
    with offline_session("us-east-1", "bucket-b") as second:
        second_client = second.sagemaker_client
    assert first_client.meta.region_name == "eu-west-1"
    assert second_client.meta.region_name == "us-east-1"
    assert first.boto_session._session is not second.boto_session._session
    loader = first.boto_session._session.get_component("data_loader")
    assert loader is second.boto_session._session.get_component("data_loader")
    # boto3 appends its data folder on every session: the shared list must not grow.
    assert _shared_loader().search_paths == paths
    assert len(paths) == len(set(paths))
