"""Measures of a client's and a target's behaviour under the rate limit: the retry-policy lab
(`policies/`: one arrival trace through every retry policy, on virtual time or over HTTP) and
the limiter (`limiter/`: a target's burst, sustained rate and Retry-After, measured with free
probes); `virtualtime.py`, the event loop whose clock jumps over idle waits."""
