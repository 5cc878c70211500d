"""Bad-input suite: one mistake in a copy of definitions/ gives exit 2 and one precise line.

Each case copies the real definitions/ (without compiled/) and components/ into tmp_path, makes
ONE edit to ONE YAML file and runs `sm-pipelines validate`. Text edits assert that the text they
replace is present, so a case fails loudly when the fixture drifts instead of testing nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import validate_lines

PIPELINE = "pipelines/llm-twin-ct.yaml"
LOCAL = "environments/local.yaml"
STAGING = "environments/staging.yaml"
PIPE = f"definitions/{PIPELINE}"
STAGE = f"definitions/{STAGING}"

PARAMS = (
    "DataSources, AuthorName, TrainEpochs, TrainMaxSteps, LearningRate, LoraRank, "
    "MinAnswerQuality, ModelApprovalStatus"
)
STEPS = (
    "etl, features, dataset, train, evaluate, quality-gate, register, deploy, quality-gate-failed"
)


@dataclass(frozen=True)
class Edit:
    """Replace `old` by `new` once in `file`; `old=None` replaces the whole file with `new`."""

    file: str
    old: str | None
    new: str | bytes

    def apply(self, definitions: Path) -> None:
        path = definitions / self.file
        if self.old is None:
            if isinstance(self.new, bytes):
                path.write_bytes(self.new)
            else:
                path.write_text(self.new, encoding="utf-8")
            return
        text = path.read_text(encoding="utf-8")
        assert text.count(self.old) == 1, f"fixture drifted: {self.old!r} not once in {self.file}"
        path.write_text(text.replace(self.old, str(self.new)), encoding="utf-8")


def case(case_id: str, edit: Edit, expected: str):
    return pytest.param(edit, expected, id=case_id)


DUPLICATE_STEP = """
  - name: deploy
    kind: fail
    display_name: Duplicate
    description: Same name as an earlier step.
    error_message: duplicate
"""

CASES = [
    # --- pipeline file: keys, types and values checked by the model -----------------------
    case(
        "register-metadata-key-not-allowed",
        Edit(
            PIPELINE,
            "    approval_status: {param: ModelApprovalStatus}\n",
            "    approval_status: {param: ModelApprovalStatus}\n"
            '    customer_metadata: {"bad;key": x}\n',
        ),
        f"{PIPE}:153: steps[6].customer_metadata: 'bad;key' is not a CustomerMetadataProperties "
        "key (1-128 letters, digits, spaces and _.:/=+-@)",
    ),
    case(
        "pipeline-unknown-top-level-key",
        Edit(PIPELINE, "\nparameters:\n", "\nparamters:\n"),
        f"{PIPE}:13: paramters: unknown key 'paramters' (did you mean 'parameters'?)",
    ),
    case(
        "step-unknown-key",
        Edit(PIPELINE, "    component: etl\n", "    component: etl\n    instance_cuont: 2\n"),
        f"{PIPE}:69: steps[0].instance_cuont: unknown key 'instance_cuont' "
        "(did you mean 'instance_count'?)",
    ),
    case(
        "step-string-for-integer",
        Edit(PIPELINE, "    component: etl\n", '    component: etl\n    instance_count: "two"\n'),
        f"{PIPE}:69: steps[0].instance_count: expected an integer, got a string",
    ),
    case(
        "parameter-default-wrong-type",
        Edit(
            PIPELINE, "    type: integer\n    default: 1\n", "    type: integer\n    default: one\n"
        ),
        f"{PIPE}:22: parameters.TrainEpochs: default 'one' is not an integer",
    ),
    case(
        "parameter-default-not-in-enum",
        Edit(PIPELINE, "    default: PendingManualApproval\n", "    default: Rejected\n"),
        f"{PIPE}:42: parameters.ModelApprovalStatus: default 'Rejected' is not one of enum "
        "['Approved', 'PendingManualApproval']",
    ),
    case(
        "defaults-retry-max-attempts-over-20",
        Edit(PIPELINE, "    max_attempts: 3\n", "    max_attempts: 21\n"),
        f"{PIPE}:50: defaults.retry.max_attempts: 21 is above the maximum 20",
    ),
    case(
        "schedule-cron-five-fields",
        Edit(PIPELINE, "cron(0 2 * * ? *)", "cron(0 2 * * ?)"),
        f"{PIPE}:59: triggers[0].expression: bad schedule 'cron(0 2 * * ?)': cron needs 6 "
        "fields (min hour day-of-month month day-of-week year), got 5",
    ),
    case(
        "schedule-cron-both-days-star",
        Edit(PIPELINE, "cron(0 2 * * ? *)", "cron(0 2 * * * *)"),
        f"{PIPE}:59: triggers[0].expression: bad schedule 'cron(0 2 * * * *)': exactly one of "
        "day-of-month and day-of-week must be '?'",
    ),
    case(
        "schedule-rate-plural-for-one",
        Edit(PIPELINE, "cron(0 2 * * ? *)", "rate(1 days)"),
        f"{PIPE}:59: triggers[0].expression: bad schedule 'rate(1 days)': use 'day' for 1 and "
        "'days' otherwise",
    ),
    case(
        "schedule-rate-not-a-number",
        Edit(PIPELINE, "cron(0 2 * * ? *)", "rate(five minutes)"),
        f"{PIPE}:59: triggers[0].expression: bad schedule 'rate(five minutes)': expected "
        "'cron(min hour day-of-month month day-of-week year)' or 'rate(N unit)'",
    ),
    case(
        "step-missing-display-name",
        Edit(PIPELINE, "    display_name: Ingest-sources\n", ""),
        f"{PIPE}:64: steps[0].display_name: required field is missing",
    ),
    case(
        "step-display-name-with-space",
        Edit(PIPELINE, "display_name: Ingest-sources", "display_name: Ingest sources"),
        f"{PIPE}:66: steps[0].display_name: expected 1-64 letters, digits, - and _ "
        "(SageMaker allows no spaces), got 'Ingest sources'",
    ),
    case(
        "step-unknown-kind",
        Edit(PIPELINE, "    kind: training\n", "    kind: trianing\n"),
        f"{PIPE}:105: steps[3].kind: unknown kind 'trianing'; expected one of 'processing', "
        "'training', 'register', 'condition', 'lambda', 'fail'",
    ),
    case(
        "pipeline-name-over-82",
        Edit(PIPELINE, "name: llm-twin-ct\n", "name: llm-twin-ct" + "-x" * 40 + "\n"),
        f"{PIPE}:7: name: is 91 characters; the limit is 82",
    ),
    case(
        "step-name-over-64",
        Edit(PIPELINE, "  - name: dataset\n", "  - name: dataset" + "-x" * 30 + "\n"),
        f"{PIPE}:90: steps[2].name: is 67 characters; the limit is 64",
    ),
    case(
        "property-file-reads-missing-output",
        Edit(
            PIPELINE,
            "      snapshot: {output: snapshot, path: snapshot.json}\n\n  - name: features",
            "      snapshot: {output: snap, path: snapshot.json}\n\n  - name: features",
        ),
        f"{PIPE}:74: steps[0].property_files.snapshot.output: property file 'snapshot' reads "
        "output 'snap', which is not in outputs (snapshot)",
    ),
    case(
        "condition-unknown-operator",
        Edit(PIPELINE, 'op: ">="', 'op: "=>"'),
        f"{PIPE}:142: steps[5].conditions[0].op: expected '==', '!=', '>', '>=', '<' or '<=', "
        "got '=>'",
    ),
    case(
        "pipeline-yaml-tab",
        Edit(PIPELINE, "    component: etl\n", "    component: etl\n\tcache: true\n"),
        f"{PIPE}:69: invalid YAML: found character '\\t' that cannot start any token",
    ),
    # --- pipeline file: cross-references -----------------------------------------------------
    case(
        "schedule-parameter-not-a-pipeline-parameter",
        Edit(PIPELINE, "      TrainEpochs: 1\n", "      TrainEpoch: 1\n"),
        f"{PIPE}:61: triggers[0].parameters.TrainEpoch: no parameter named 'TrainEpoch' "
        f"(have: {PARAMS})",
    ),
    case(
        "schedule-parameter-wrong-type",
        Edit(PIPELINE, "      TrainEpochs: 1\n", "      TrainEpochs: one\n"),
        f"{PIPE}:61: triggers[0].parameters.TrainEpochs: 'one' is not an integer",
    ),
    case(
        "param-reference-missing",
        Edit(PIPELINE, "{param: AuthorName}", "{param: Nope}"),
        f"{PIPE}:69: steps[0].arguments[3]: no parameter named 'Nope' (have: {PARAMS})",
    ),
    case(
        "step-reference-missing",
        Edit(PIPELINE, "train: {step: dataset, output: train}", "train: {step: nope, output: x}"),
        f"{PIPE}:111: steps[3].inputs.train: no other step named 'nope' (steps: {STEPS})",
    ),
    case(
        "step-output-missing",
        Edit(
            PIPELINE,
            "train: {step: dataset, output: train}",
            "train: {step: dataset, output: validation}",
        ),
        f"{PIPE}:111: steps[3].inputs.train: step 'dataset' has no output 'validation' "
        "(has: train, test)",
    ),
    case(
        "property-file-reference-missing",
        Edit(
            PIPELINE,
            "[--raw-digest, {step: etl, property_file: snapshot, json_path: digest}]",
            "[--raw-digest, {step: etl, property_file: snap, json_path: digest}]",
        ),
        f"{PIPE}:81: steps[1].arguments[1]: step 'etl' has no property file 'snap' (has: snapshot)",
    ),
    case(
        "depends-on-missing-step",
        Edit(
            PIPELINE,
            "    component: deploy\n",
            "    component: deploy\n    depends_on: [regsiter]\n",
        ),
        f"{PIPE}:161: steps[7].depends_on[0]: no other step named 'regsiter' (steps: {STEPS})",
    ),
    case(
        "condition-if-steps-missing-step",
        Edit(PIPELINE, "if_steps: [register, deploy]", "if_steps: [register, deplyo]"),
        f"{PIPE}:144: steps[5].if_steps[1]: no other step named 'deplyo' (steps: {STEPS})",
    ),
    case(
        "condition-step-in-both-branches",
        Edit(PIPELINE, "else_steps: [quality-gate-failed]", "else_steps: [deploy]"),
        f"{PIPE}:145: steps[5].else_steps[0]: step 'deploy' is already in quality-gate.if_steps",
    ),
    case(
        "duplicate-step-name",
        Edit(PIPELINE, '      separator: " "\n', '      separator: " "\n' + DUPLICATE_STEP),
        f"{PIPE}:179: steps[9].name: step name 'deploy' is already used by steps[7]",
    ),
    case(
        "component-missing",
        Edit(PIPELINE, "    component: evaluate\n", "    component: evaluation\n"),
        f"{PIPE}:125: steps[4].component: components/evaluation/__main__.py does not exist",
    ),
    case(
        "depends-on-cycle",
        Edit(
            PIPELINE,
            "    component: dataset\n",
            "    component: dataset\n    depends_on: [train]\n",
        ),
        f"{PIPE}:63: steps: steps form a cycle: dataset -> train -> dataset",
    ),
    case(
        "step-instance-type-without-ml-prefix",
        Edit(PIPELINE, "    instance_type: evaluation\n", "    instance_type: m5.large\n"),
        f"{PIPE}:126: steps[4].instance_type: instance type 'm5.large' is not an ml.* type and is "
        "not defined in instance_types of local.yaml, production.yaml, staging.yaml",
    ),
    # --- instance types against images (AWS environments) ------------------------------------
    case(
        "gpu-instance-with-a-cpu-image",
        Edit(STAGING, "  evaluation: ml.m5.xlarge\n", "  evaluation: ml.g5.xlarge\n"),
        f"{STAGE}:15: instance_types.evaluation: ml.g5.xlarge is a GPU instance, but step "
        "evaluate of llm-twin-ct runs image 'processing', which is not GPU-capable "
        "(images.processing.gpu is false in staging.yaml): set a CPU instance type here or give "
        "the step a GPU image",
    ),
    case(
        "gpu-image-on-a-cpu-instance",
        Edit(STAGING, "  training: ml.g5.2xlarge\n", "  training: ml.c5.2xlarge\n"),
        f"{STAGE}:16: instance_types.training: ml.c5.2xlarge has no GPU, but step train of "
        "llm-twin-ct runs image 'training', a GPU image (images.training.gpu is true in "
        "staging.yaml): set a GPU instance type (ml.g*, ml.p*) here or give the step a CPU image",
    ),
    case(
        "literal-gpu-instance-in-a-step-with-a-cpu-image",
        Edit(PIPELINE, "    instance_type: evaluation\n", "    instance_type: ml.p4d.24xlarge\n"),
        f"{PIPE}:126: steps[4].instance_type: ml.p4d.24xlarge is a GPU instance, but step "
        "evaluate of llm-twin-ct runs image 'processing', which is not GPU-capable "
        "(images.processing.gpu is false in production.yaml, staging.yaml): set a CPU instance "
        "type here or give the step a GPU image",
    ),
    # --- environment files -------------------------------------------------------------------
    case(
        "environment-unknown-key",
        Edit(STAGING, "prefix: llm-twin\n", "prefix: llm-twin\nbuckt: x\n"),
        f"{STAGE}:9: buckt: unknown key 'buckt' (did you mean 'bucket'?)",
    ),
    case(
        "model-package-group-over-63",
        Edit(
            STAGING,
            "model_package_group: llm-twin-staging\n",
            "model_package_group: llm-twin-staging" + "-x" * 25 + "\n",
        ),
        f"{STAGE}:18: model_package_group: is 66 characters; the limit is 63",
    ),
    case(
        "account-id-eleven-digits",
        Edit(STAGING, 'account_id: "111122223333"', 'account_id: "11112222333"'),
        f"{STAGE}:4: account_id: expected a 12-digit AWS account id in quotes, got '11112222333'",
    ),
    case(
        "account-id-unquoted",
        Edit(STAGING, 'account_id: "111122223333"', "account_id: 111122223333"),
        f"{STAGE}:4: account_id: expected a string, got an integer",
    ),
    case(
        "role-arn-in-other-account",
        Edit(
            STAGING, "role_arn: arn:aws:iam::111122223333:", "role_arn: arn:aws:iam::444455556666:"
        ),
        f"{STAGE}:6: role_arn: 'arn:aws:iam::444455556666:role/llm-twin-staging-sagemaker-"
        "execution' is not in account 111122223333; the execution role must live in the "
        "environment's account",
    ),
    case(
        "role-arn-other-account-mentioning-account-id",
        Edit(
            STAGING,
            "role_arn: arn:aws:iam::111122223333:role/llm-twin-staging-",
            "role_arn: arn:aws:iam::444455556666:role/111122223333-",
        ),
        f"{STAGE}:6: role_arn: 'arn:aws:iam::444455556666:role/111122223333-sagemaker-execution' "
        "is not in account 111122223333; the execution role must live in the environment's "
        "account",
    ),
    case(
        "region-malformed",
        Edit(STAGING, "region: eu-west-1", "region: eu-west"),
        f"{STAGE}:5: region: expected an AWS region such as eu-west-1, got 'eu-west'",
    ),
    case(
        "environment-instance-type-without-ml-prefix",
        Edit(STAGING, "  processing: ml.m5.xlarge\n", "  processing: m5.xlarge\n"),
        f"{STAGE}:14: instance_types.processing: expected 'ml.<family>.<size>' "
        "(for example ml.m5.xlarge), got 'm5.xlarge'",
    ),
    case(
        "image-missing-in-staging",
        Edit(STAGING, "  serving: {repository: llm-twin-serving, tag: latest, gpu: true}\n", ""),
        f"{PIPE}:147: steps[6].image: image 'serving' is not defined in staging.yaml images "
        "(have: processing, training)",
    ),
    case(
        "secret-missing-in-staging",
        Edit(STAGING, "  LLM_API_KEY: {ssm: /llm-twin/staging/llm-api-key}\n", ""),
        f"{PIPE}:96: steps[2].secrets[1]: secret 'LLM_API_KEY' has no reference in staging.yaml "
        "secrets",
    ),
    case(
        "job-contract-output-the-component-does-not-write",
        Edit(PIPELINE, "      snapshot: {}\n", "      snapshot: {}\n      documents: {}\n"),
        f"{PIPE}:71: steps[0].outputs: component 'etl' writes snapshot but the step declares "
        "snapshot, documents (components/common/contract.py)",
    ),
    case(
        "role-in-another-partition",
        Edit(STAGING, "region: eu-west-1\n", "region: cn-north-1\n"),
        f"{STAGE}:6: role_arn: 'arn:aws:iam::111122223333:role/llm-twin-staging-sagemaker-"
        "execution' is in partition 'aws' but region cn-north-1 is in 'aws-cn' "
        "(arn:aws-cn:iam::...)",
    ),
    case(
        "parameter-defaults-unknown-parameter",
        Edit(STAGING, "    TrainMaxSteps: -1\n", "    TrainMaxStep: -1\n"),
        f"{STAGE}:31: parameter_defaults.llm-twin-ct.TrainMaxStep: llm-twin-ct has no parameter "
        "'TrainMaxStep' (have: AuthorName, DataSources, LearningRate, LoraRank, "
        "MinAnswerQuality, ModelApprovalStatus, TrainEpochs, TrainMaxSteps)",
    ),
    case(
        "parameter-defaults-wrong-type",
        Edit(STAGING, "    TrainMaxSteps: -1\n", "    TrainMaxSteps: lots\n"),
        f"{STAGE}:31: parameter_defaults.llm-twin-ct.TrainMaxSteps: 'lots' is not an integer",
    ),
    case(
        "parameter-defaults-not-in-enum",
        Edit(STAGING, "    ModelApprovalStatus: Approved\n", "    ModelApprovalStatus: Rejected\n"),
        f"{STAGE}:30: parameter_defaults.llm-twin-ct.ModelApprovalStatus: 'Rejected' is not one "
        "of ['Approved', 'PendingManualApproval']",
    ),
    case(
        "parameter-defaults-unknown-pipeline",
        Edit(STAGING, "  llm-twin-ct:\n", "  llm-twin-cd:\n"),
        f"{STAGE}:29: parameter_defaults.llm-twin-cd: no pipeline named 'llm-twin-cd' "
        "(have: llm-twin-ct)",
    ),
    case(
        "environment-name-not-file-name",
        Edit(STAGING, "name: staging\n", "name: stage\n"),
        f"{STAGE}:3: name: is 'stage' but the file is staging.yaml; name the file stage.yaml",
    ),
    # --- environment files: YAML itself ------------------------------------------------------
    case(
        "yaml-tab",
        Edit(STAGING, "prefix: llm-twin\n", "prefix: llm-twin\n\tregion: us-east-1\n"),
        f"{STAGE}:9: invalid YAML: found character '\\t' that cannot start any token",
    ),
    case(
        "yaml-unclosed-bracket",
        Edit(
            STAGING,
            "  processing: {repository: llm-twin-processing, tag: latest}\n",
            "  processing: {repository: llm-twin-processing, tag: latest\n",
        ),
        f"{STAGE}:10: invalid YAML: while parsing a flow mapping: expected ',' or '}}', but got "
        "':' on line 11",
    ),
    case(
        "yaml-duplicate-key",
        Edit(STAGING, "prefix: llm-twin\n", "prefix: llm-twin\nregion: us-east-1\n"),
        f"{STAGE}:9: invalid YAML: duplicate key 'region' (first at line 5)",
    ),
    case(
        "yaml-empty-file",
        Edit(LOCAL, None, ""),
        "definitions/environments/local.yaml: file is empty; expected a mapping",
    ),
    case(
        "yaml-top-level-list",
        Edit(LOCAL, None, "- name: local\n- kind: local\n"),
        "definitions/environments/local.yaml:1: expected a mapping at the top, found list",
    ),
    case(
        "yaml-not-utf8",
        Edit(LOCAL, None, b"name: \xff\xfe\n"),
        "definitions/environments/local.yaml: not UTF-8 text (invalid start byte at byte 6)",
    ),
]


def test_unmodified_copy_is_valid(definitions: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = validate_lines(definitions, capsys)
    assert (code, lines) == (0, [])


def test_case_ids_are_unique() -> None:
    ids = [param.id for param in CASES]
    assert len(ids) == len(set(ids)) >= 24


@pytest.mark.parametrize(("edit", "expected"), CASES)
def test_one_mistake_one_line(
    definitions: Path, capsys: pytest.CaptureFixture[str], edit: Edit, expected: str
) -> None:
    edit.apply(definitions)
    code, lines = validate_lines(definitions, capsys)
    assert code == 2
    assert lines == [f"error: {expected}"]


def test_two_mistakes_two_lines_sorted_by_line(
    definitions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The later line is broken first, so the output order cannot come from the edit order.
    Edit(
        PIPELINE,
        "train: {step: dataset, output: train}",
        "train: {step: dataset, output: validation}",
    ).apply(definitions)
    Edit(PIPELINE, "{param: AuthorName}", "{param: Nope}").apply(definitions)
    code, lines = validate_lines(definitions, capsys)
    assert code == 2
    assert lines == [
        f"error: {PIPE}:69: steps[0].arguments[3]: no parameter named 'Nope' (have: {PARAMS})",
        f"error: {PIPE}:111: steps[3].inputs.train: step 'dataset' has no output 'validation' "
        "(has: train, test)",
    ]
