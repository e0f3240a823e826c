"""The contract suite: the pytest plugin (`plugin.py`, thin hooks) and the `Run` it holds
(`run.py`); options and Hypothesis profiles; targets (in process, live, replay); the paid
exchanges (`purchases.py`) and the ledger that buys each once (`ledger.py`); the checks
(`checks/`), the evidence they record, each test's outcome and the run's results and verdict;
cost; Hypothesis strategies; the compliance report and the console's last lines."""
