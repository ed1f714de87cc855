"""`python -m gitops_sla` is the `gitops-sla` command."""

import sys

from gitops_sla.cli import main

sys.exit(main())
