"""The retry-policy lab behind `tryon-suite policies`. One arrival trace, every client policy.

The same open workload (Poisson arrivals from the seed, at `--rate` try-ons per second for
`--duration` seconds) goes through each retry policy of `tryon_suite.http.retry`, in sync mode
(`wait_for_result` true: 200 with the result) and polling mode (202, then the job polled as
`tryon_suite.http.polling.PollPolicy` says), and the lab tabulates, charts and ranks what each
bought: results per minute, requests and credits per result, 429s, time to result, give-ups.

By default the target is the simulator's core in this process, on a virtual-time event loop
(`virtualtime.py`): every try-on of the trace is in flight concurrently, an hour of traffic
takes seconds of wall time, and a seed gives the same table every time. With `--host` the same
driver sends the same trace over real HTTP, paced only by the trace. Either way the retry
decisions and what a policy remembers are `retry.RetryLoop` and `retry.RetryState`, the objects
`TryOnClient` drives, and time to result counts from each try-on's intended arrival, so a
client that falls behind is charged for it (no coordinated omission).

Modules, in the order data flows: `settings` (the run and its trace), `senders` (how a request
travels, and the modelled latency), `driver` (the runs), `outcome` (what each got), `ranking`,
`report` (table, charts, JSON); `tryon_suite.cli.policies` is the command line.
"""
