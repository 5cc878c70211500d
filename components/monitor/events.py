"""The quality-drop event, which starts llm-twin-ct (its `quality-drop` trigger) and reaches a
person through the alert route for it (definitions/alerts.yaml).

In AWS: EventBridge PutEvents on the default bus (or $EVENT_BUS_NAME). Locally (the executor
sets SM_PIPELINES_LOCAL_STATE): the same envelope EventBridge would deliver, appended to
<state>/events.jsonl beside the executor's own events.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from components.common.contract import STATE_VARIABLE
from components.common.job import JobError

# Exactly what llm-twin-ct's quality-drop trigger and the alert route match.
SOURCE = "llm-twin.monitoring"
DETAIL_TYPE = "LLM Twin Quality Drop"
LOCAL_ACCOUNT = "000000000000"


def envelope(detail: dict[str, Any], region: str, account: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": DETAIL_TYPE,
        "source": SOURCE,
        "account": account,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [],
        "detail": detail,
    }


def emit(detail: dict[str, Any], env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Send the event; where it went and its id. Raises JobError when it could not be sent: a
    drop nobody hears about is worse than a failed monitoring run (which alerts by itself)."""
    env = os.environ if env is None else env
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
    state = env.get(STATE_VARIABLE, "").strip()
    if state:
        event = envelope(detail, region, LOCAL_ACCOUNT)
        path = Path(state) / "events.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(event, sort_keys=True) + "\n")
        return {"destination": str(path), "id": event["id"]}
    return _put_event(detail, region, env.get("EVENT_BUS_NAME", "").strip() or "default")


def _put_event(detail: dict[str, Any], region: str, bus: str) -> dict[str, str]:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        response = boto3.client("events", region_name=region).put_events(
            Entries=[
                {
                    "Source": SOURCE,
                    "DetailType": DETAIL_TYPE,
                    "Detail": json.dumps(detail, sort_keys=True),
                    "EventBusName": bus,
                }
            ]
        )
    except (BotoCoreError, ClientError) as exc:
        raise JobError(f"cannot send the quality-drop event to EventBridge: {exc}") from None
    entry = (response.get("Entries") or [{}])[0]
    if response.get("FailedEntryCount") or "EventId" not in entry:
        raise JobError(
            "EventBridge refused the quality-drop event: "
            f"{entry.get('ErrorCode', '?')}: {entry.get('ErrorMessage', '')}"
        )
    return {"destination": f"EventBridge bus {bus} ({region})", "id": entry["EventId"]}
