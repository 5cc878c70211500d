"""YAML models -> native sagemaker.workflow pipelines -> deterministic definition JSON.

`compiler` builds pipelines (one `steps/<kind>.py` builder per step kind), `build` writes or
checks definitions/compiled/, `bundle` is the code bundle and its S3 location, `session` the
offline PipelineSession that makes zero AWS calls.

Importing this package quiets the SDK's import-time chatter (the v2 deprecation banner and the
"Not applying SDK defaults" lines), which would otherwise bury the CLI's own output.
"""

import logging
import os

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
logging.getLogger("sagemaker.config").setLevel(logging.WARNING)
