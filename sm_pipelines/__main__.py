import sys

from sm_pipelines.cli import main

sys.exit(main())
