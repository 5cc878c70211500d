"""SageMaker service limits checked before anything reaches AWS."""

PIPELINE_NAME_MAX = 82
STEP_NAME_MAX = 64
JOB_NAME_MAX = 63
PIPELINE_DISPLAY_NAME_MAX = 256
DESCRIPTION_MAX = 3072
PARAMETER_NAME_MAX = 64
DEFINITION_INLINE_MAX_CHARS = 1_048_576
RETRY_MAX_ATTEMPTS = 20
CONCURRENT_EXECUTIONS_PER_ACCOUNT = 20
SNS_TOPIC_NAME_MAX = 256
EVENTBRIDGE_RULE_NAME_MAX = 64
MODEL_PACKAGE_GROUP_NAME_MAX = 63
TAG_KEY_MAX = 128
TAG_VALUE_MAX = 256
TAGS_PER_RESOURCE_MAX = 50

# Names SageMaker accepts for pipelines, steps, model package groups and parameters.
PIPELINE_NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$"
STEP_NAME_PATTERN = r"^[A-Za-z0-9\-_]*$"
PARAMETER_NAME_PATTERN = r"^[A-Za-z0-9\-_]+$"
# From the definition schema and CreatePipeline: display names take no spaces.
STEP_DISPLAY_NAME_PATTERN = r"^[A-Za-z0-9\-_]{1,64}$"
PIPELINE_DISPLAY_NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}$"
# An image tag as ECR and Docker accept it.
IMAGE_TAG_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"
# An ECR repository name.
REPOSITORY_PATTERN = r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$"
