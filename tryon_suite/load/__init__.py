"""Load-run machinery shared by `load/locustfile.py`: metrics, thresholds and the load report.

Importing this package does not import Locust; the locustfile imports Locust first.
"""
