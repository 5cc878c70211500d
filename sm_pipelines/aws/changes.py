"""Apply an environment's AWS wiring idempotently: Lambda steps' functions, the EventBridge
role, SNS topics and subscriptions, EventBridge rules. Everything created carries the
sm-pipelines tags, which is how a second run finds it and teardown removes only it."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Change:
    kind: str  # code, pipeline, rule, topic, role, function, bucket, objects
    name: str
    state: str  # created, updated, unchanged, deleted; kept (teardown left what is not ours)
    detail: str = ""

    def line(self) -> str:
        detail = f" ({self.detail})" if self.detail else ""
        return f"{self.kind} {self.name}: {self.state}{detail}"
