"""The Try-On API simulated: the core (`core.py`) on its hooks (what a mutant may change) and
store, reading every open point from one frozen `Readings` value (`readings.py`); its faces
(an httpx transport in `inprocess.py`, an ASGI app, a uvicorn server); the loopback image
server; and the twin (`twin.py`), a `Readings` built from a live run's report."""
