"""The one table of step kinds: what each YAML kind becomes in SageMaker, what it offers later
steps, and which module compiles it and which runs it locally.

Everything else reads this table: the YAML reference checks (outputs), the compiler (which
builder), the definition graph (shape), the local executor (which runner, whether a cache entry
may serve it, whether it starts a job). A step type SageMaker has but YAML cannot write (the
`Model` step an SDK `ModelStep` makes) has a row with no YAML kind, so definitions built
elsewhere run locally too. The pydantic union in `config.pipeline` is the YAML side's schema;
a test keeps its kinds equal to this table's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# A `{step, output}` reference to a kind whose outputs are declared reads the step's `outputs`.
DECLARED = "declared"


@dataclass(frozen=True)
class StepKind:
    sagemaker_type: str
    yaml_kind: str | None
    # Names a `{step, output}` reference may use: fixed, or DECLARED by the step's `outputs`.
    outputs: tuple[str, ...] | str
    # SageMaker honours CacheConfig on this type (and so does the local executor).
    cacheable: bool
    # Runs a job (a process with a sandbox and a log) rather than deciding inside the pipeline.
    starts_job: bool
    local_module: str
    compile_module: str | None = None
    # Mermaid node brackets for the graph.
    shape: tuple[str, str] = ('["', '"]')

    def output_names(self, step: Any) -> tuple[str, ...]:
        """The outputs of `step` (a YAML step model of this kind) a reference may name."""
        if self.outputs == DECLARED:
            return tuple(getattr(step, "outputs", {}) or ())
        return tuple(self.outputs)


_COMPILE = "sm_pipelines.compile.steps."
_LOCAL = "sm_pipelines.local.steps."

STEP_KINDS: tuple[StepKind, ...] = (
    StepKind(
        "Processing",
        "processing",
        DECLARED,
        cacheable=True,
        starts_job=True,
        compile_module=_COMPILE + "processing",
        local_module=_LOCAL + "processing",
    ),
    StepKind(
        "Training",
        "training",
        ("model",),
        cacheable=True,
        starts_job=True,
        compile_module=_COMPILE + "training",
        local_module=_LOCAL + "training",
        shape=('(["', '"])'),
    ),
    StepKind(
        "RegisterModel",
        "register",
        ("model_package_arn",),
        cacheable=False,
        starts_job=True,
        compile_module=_COMPILE + "register",
        local_module=_LOCAL + "register",
        shape=('[("', '")]'),
    ),
    StepKind(
        "Model",
        None,
        (),
        cacheable=False,
        starts_job=True,
        local_module=_LOCAL + "model",
    ),
    StepKind(
        "Condition",
        "condition",
        (),
        cacheable=False,
        starts_job=False,
        compile_module=_COMPILE + "condition",
        local_module=_LOCAL + "condition",
        shape=('{"', '"}'),
    ),
    StepKind(
        "Lambda",
        "lambda",
        DECLARED,
        cacheable=False,
        starts_job=True,
        compile_module=_COMPILE + "lambda_",
        local_module=_LOCAL + "lambda_",
    ),
    StepKind(
        "Callback",
        None,
        (),
        cacheable=False,
        starts_job=False,
        local_module=_LOCAL + "callback",
    ),
    StepKind(
        "Transform",
        None,
        (),
        cacheable=True,
        starts_job=True,
        local_module=_LOCAL + "transform",
    ),
    StepKind(
        "Tuning",
        None,
        (),
        cacheable=True,
        starts_job=True,
        local_module=_LOCAL + "tuning",
    ),
    StepKind(
        "Fail",
        "fail",
        (),
        cacheable=False,
        starts_job=False,
        compile_module=_COMPILE + "fail",
        local_module=_LOCAL + "fail",
        shape=('[["', '"]]'),
    ),
)

BY_TYPE: dict[str, StepKind] = {kind.sagemaker_type: kind for kind in STEP_KINDS}
BY_YAML_KIND: dict[str, StepKind] = {kind.yaml_kind: kind for kind in STEP_KINDS if kind.yaml_kind}
YAML_KINDS: tuple[str, ...] = tuple(BY_YAML_KIND)
LOCAL_TYPES: tuple[str, ...] = tuple(BY_TYPE)
