"""The overlap guard: a Lambda handler that spots an earlier execution still running."""
