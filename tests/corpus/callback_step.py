"""CallbackStep: the run (its own process, as in a terminal) posts the step's message to
`<state>/queues/approvals.jsonl` and waits; `sm-pipelines callback success TOKEN --output
verdict=ship` (as SendPipelineExecutionStepSuccess) answers it, and the output feeds a
ConditionStep. Checks: the queued message (token, arguments), the step's output, the branch
taken, the run's exit code, and that a token is answered once only."""

from __future__ import annotations

import json
from typing import Any

from sagemaker.workflow.callback_step import CallbackOutput, CallbackOutputTypeEnum, CallbackStep
from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionEquals
from sagemaker.workflow.fail_step import FailStep
from sagemaker.workflow.parameters import ParameterString
from sagemaker.workflow.pipeline import Pipeline

from sm_pipelines.local.steps.callback import waiting_tokens
from tests.corpus._kit import Case, Run, mark_step, pipeline


def build(session: Any) -> Pipeline:
    candidate = ParameterString(name="Candidate", default_value="model-7")
    approve = CallbackStep(
        name="Approve",
        sqs_queue_url="https://sqs.us-east-1.amazonaws.com/000000000000/approvals",
        inputs={"model": candidate, "reviewer": "ml-lead"},
        outputs=[CallbackOutput(output_name="verdict", output_type=CallbackOutputTypeEnum.String)],
    )
    check = ConditionStep(
        name="Shipped",
        conditions=[ConditionEquals(left=approve.properties.Outputs["verdict"], right="ship")],
        if_steps=[mark_step(session, "Ship")],
        else_steps=[FailStep(name="Held", error_message="the reviewer held the model")],
    )
    return pipeline(session, [approve, check], parameters=[candidate])


def drive(case: Case) -> Run:
    running = case.run_in_background()
    (token,) = running.wait_for(lambda: waiting_tokens(case.state))
    queue = case.state.root / "queues" / "approvals.jsonl"
    (message,) = [json.loads(line) for line in queue.read_text().splitlines()]
    answered = case.cli("callback", "success", token, "--output", "verdict=ship")
    run = running.finish()
    run.notes.update(token=token, message=message, answered=answered)
    run.notes["again"] = case.cli("callback", "success", token, "--output", "verdict=ship")
    return run


def expect(run: Run) -> None:
    token, message = run.notes["token"], run.notes["message"]
    assert (message["token"], message["stepName"]) == (token, "Approve")
    assert message["arguments"] == {"model": "model-7", "reviewer": "ml-lead"}
    assert run.notes["answered"].code == 0
    assert run.code == 0, run.why()
    outputs = run.step("Approve").properties["OutputParameters"]
    assert outputs == [{"Name": "verdict", "Value": "ship"}]
    assert run.ran("Ship") and run.statuses()["Held"] == "NotExecuted"
    again = run.notes["again"]
    assert again.code == 2 and f"no callback step waits for token '{token}'" in again.err
