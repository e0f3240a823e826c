"""The self-test: the suite against the correct simulator and every mutant (`run.py`), in one
pytest session (`plugin.py`, loaded with `-p tryon_suite.selftest.plugin`), and the kill
matrix. Its command line is `tryon-suite selftest` (`tryon_suite/cli/selftest.py`)."""
