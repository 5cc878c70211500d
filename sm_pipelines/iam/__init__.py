"""Least-privilege IAM policy documents for an environment's roles (no AWS calls): statement
building blocks (`statements`), the execution role, the CD deploy role, and `documents`, which
assembles what `sm-pipelines iam` prints."""
