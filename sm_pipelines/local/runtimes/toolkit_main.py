"""The process of a script-mode training job: the sagemaker-training toolkit's own `train()`,
which framework containers (scikit-learn, PyTorch, Hugging Face, TensorFlow, XGBoost in script
mode) run as their entrypoint.

Run by path with the executor's interpreter, so it imports nothing of the executor. The toolkit
decodes hyperparameters.json, sets the SM_* variables, builds the `--key value` arguments, runs
the user's program and writes /opt/ml/output/failure; three things are adapted to a machine with
no container:
- the user's program runs with the interpreter that stands in for the image's Python
  (SM_LOCAL_IMAGE_PYTHON), which need not be the one running the toolkit;
- `requirements.txt` is installed with the job's `pip` (the executor's shim on PATH), which
  installs into the image's own folder once and names the package it cannot get, instead of
  into the executor's environment;
- the check that the cluster's hostnames resolve is skipped, as the toolkit does in Studio's
  local mode (SM_STUDIO_LOCAL_MODE), since there is one host and it is this one.
"""

import os
import shlex
import subprocess
import sys


def main() -> None:
    os.environ.setdefault("SM_STUDIO_LOCAL_MODE", "True")
    from sagemaker_training import errors, logging_config, modules, process, trainer

    image_python = os.environ.get("SM_LOCAL_IMAGE_PYTHON")
    if image_python:
        process.python_executable = lambda: image_python

    def install_requirements(path: str, capture_error: bool = False) -> None:
        logging_config.get_logger().info("Installing dependencies from requirements.txt")
        command = ["pip", "install", "-r", "requirements.txt"]
        done = subprocess.run(command, cwd=path, capture_output=True, text=True, check=False)
        sys.stdout.write(done.stdout)
        sys.stderr.write(done.stderr)
        if done.returncode != 0:
            lines = [line for line in done.stderr.splitlines() if line.strip()]
            raise errors.InstallRequirementsError(
                shlex.join(command), done.returncode, (lines[-1] if lines else "").encode()
            )

    modules.install_requirements = install_requirements
    trainer.train()


if __name__ == "__main__":
    main()
