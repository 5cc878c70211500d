"""Turn YAML values and references into SDK pipeline variables (Get, JsonGet, Join...)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sagemaker.workflow.execution_variables import ExecutionVariables
from sagemaker.workflow.functions import Join, JsonGet
from sagemaker.workflow.parameters import Parameter
from sagemaker.workflow.properties import PropertyFile

from sm_pipelines.compile.bundle import CodeLocation
from sm_pipelines.config.environment import EnvironmentConfig
from sm_pipelines.config.values import (
    EnvRef,
    ExecutionRef,
    JoinRef,
    ParamRef,
    PropertyFileRef,
    StepOutputRef,
)

_EXECUTION = {
    "CurrentDateTime": ExecutionVariables.CURRENT_DATETIME,
    "StartDateTime": ExecutionVariables.START_DATETIME,
    "PipelineExecutionId": ExecutionVariables.PIPELINE_EXECUTION_ID,
    "PipelineExecutionArn": ExecutionVariables.PIPELINE_EXECUTION_ARN,
    "PipelineName": ExecutionVariables.PIPELINE_NAME,
    "PipelineArn": ExecutionVariables.PIPELINE_ARN,
    "TrainingJobName": ExecutionVariables.TRAINING_JOB_NAME,
    "ProcessingJobName": ExecutionVariables.PROCESSING_JOB_NAME,
}


@dataclass
class BuildContext:
    """What a step builder needs: the environment, the code, and what earlier steps offer."""

    env: EnvironmentConfig
    parameters: dict[str, Parameter]
    # Where the code bundle lives, and the offline PipelineSession the SDK classes are given.
    code: CodeLocation
    session: Any
    outputs: dict[tuple[str, str], Any] = field(default_factory=dict)
    property_files: dict[tuple[str, str], tuple[str, PropertyFile]] = field(default_factory=dict)

    def resolve(self, value: Any) -> Any:
        """The SDK value for a YAML literal or reference."""
        if isinstance(value, ParamRef):
            return self.parameters[value.param]
        if isinstance(value, StepOutputRef):
            return self.outputs[(value.step, value.output)]
        if isinstance(value, PropertyFileRef):
            step_name, property_file = self.property_files[(value.step, value.property_file)]
            return JsonGet(
                step_name=step_name, property_file=property_file, json_path=value.json_path
            )
        if isinstance(value, ExecutionRef):
            return _EXECUTION[value.execution]
        if isinstance(value, EnvRef):
            return getattr(self.env, value.env)
        if isinstance(value, JoinRef):
            return Join(on=value.separator, values=[self.resolve(item) for item in value.values])
        return value

    def resolve_str(self, value: Any) -> Any:
        """Like resolve, but literals become strings (job arguments and environments are text)."""
        resolved = self.resolve(value)
        if isinstance(resolved, bool):
            return "true" if resolved else "false"
        return str(resolved) if isinstance(resolved, int | float) else resolved
