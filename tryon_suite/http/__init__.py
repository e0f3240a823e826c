"""HTTP to a target: `TryOnClient` (`client.py`), the API's calls over a stack of httpx
transports, one per concern (credits, retry, budget, pace, watch, record, wire); requests
(`request.py`), polling a job (`polling.py`), exchanges as the report shows them
(`exchange.py`), keys masked where bytes leave (`secret.py`, `redact.py`), liveness and
timeouts (`watch.py`), clocks, the preflight, and the cassette's record and replay transports
(`cassette/`). Imports `errors` and `spec`."""
