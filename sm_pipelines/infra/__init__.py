"""An environment's account-level resources as one CloudFormation template (no AWS calls).

`sm-pipelines bootstrap --env E` renders what a fresh account needs before the first upsert:
the artifact bucket (`storage`), the KMS key of the alert topics (`keys`), the ECR repositories
of the images (`repositories`), the execution, EventBridge and CD roles with the policies
`sm-pipelines iam` prints and GitHub's OIDC provider (`roles`), and empty Secrets Manager
secrets for the values the environment references (`secrets`). `template` assembles them and
`lint` validates the result with cfn-lint; `sm_pipelines.aws.bootstrap` deploys it.

Resources that hold data (bucket, key, repositories, secrets) are `Retain`ed: deleting the stack
leaves them, and their contents, in the account.
"""
