"""A SageMaker session for building definitions the local executor runs, with no AWS account.

Building a pipeline with `@step` functions (or local `code=` paths) uploads files to S3 at
`pipeline.definition()` time: the serialized function and its arguments, the remote-function
bootstrap scripts, requirements and pre-execution commands. With this session those uploads
land in the local state folder (through the loopback S3 endpoint over `<state>/s3`), where
`sm-pipelines run --local --definition` finds them:

    from sm_pipelines.local.session import state_session

    with state_session() as session:          # .sm-local, or SM_PIPELINES_STATE, or state=
        pipeline = Pipeline(name="demo", steps=[...], sagemaker_session=session)
        Path("demo.json").write_text(pipeline.definition())

Nothing reaches AWS: credentials are placeholders, telemetry is off, and what the SDK would ask
IAM/STS (the caller's role when a `@step` names none, the account id) is answered with
placeholders of the executor's account (`000000000000` unless told otherwise).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from unittest import mock

from sm_pipelines.compile.session import quiet_sdk
from sm_pipelines.config.naming import arn_in
from sm_pipelines.local.s3_endpoint import job_variables, s3_endpoint
from sm_pipelines.local.state import LocalState

if TYPE_CHECKING:
    from sagemaker.workflow.pipeline_context import PipelineSession

DEFAULT_BUCKET = "sagemaker-local"
LOCAL_ACCOUNT = "000000000000"


def _session_class() -> type[PipelineSession]:
    from sagemaker.workflow.pipeline_context import PipelineSession

    class StateSession(PipelineSession):
        """A PipelineSession whose S3 is the state folder and which asks AWS nothing."""

        local_account = LOCAL_ACCOUNT

        def account_id(self) -> str:
            return self.local_account

        def get_caller_identity_arn(self) -> str:
            return self.expand_role("sm-pipelines-local")

        def expand_role(self, role: str) -> str:
            if role.startswith("arn:"):
                return role
            return arn_in("aws", "iam", "", self.local_account, f"role/{role}")

    return StateSession


def _bucket(root: LocalState, bucket: str) -> str:
    """The default bucket, there in the state (as the SDK creates it when it is missing)."""
    (root.s3_root / bucket).mkdir(parents=True, exist_ok=True)
    return bucket


@contextlib.contextmanager
def state_session(
    state: str | Path | None = None,
    region: str = "us-east-1",
    bucket: str = DEFAULT_BUCKET,
    account: str = LOCAL_ACCOUNT,
) -> Iterator[PipelineSession]:
    """A PipelineSession whose S3 uploads land in the state folder, for as long as it is open."""
    import boto3
    import sagemaker.session as sessions

    root = LocalState.at(state)
    with (
        s3_endpoint(root.s3_root, region) as url,
        # Every S3 client made while the session is open reaches the state, including those
        # the SDK makes from the boto session itself (a framework model's code upload does).
        mock.patch.dict(
            os.environ, {"AWS_EC2_METADATA_DISABLED": "true", **job_variables(url, region, {})}
        ),
        # Objects built with no sagemaker_session (the abalone notebook's processors, estimator
        # and transformer) make a plain Session of their own, which would ask STS for the
        # account behind its default bucket.
        mock.patch.object(sessions.Session, "default_bucket", lambda _self: _bucket(root, bucket)),
        mock.patch.object(sessions.Session, "account_id", lambda _self: account),
        quiet_sdk(),
    ):
        boto_session = boto3.Session(region_name=region)
        session = _session_class()(boto_session=boto_session, default_bucket=bucket)
        session.local_account = account
        session.s3_client = boto_session.client("s3", endpoint_url=url)
        session.s3_resource = boto_session.resource("s3", endpoint_url=url)
        yield session
