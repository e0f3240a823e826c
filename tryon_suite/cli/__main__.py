"""`python -m tryon_suite.cli ...` is `tryon-suite ...`."""

from tryon_suite.cli import main

raise SystemExit(main())
