"""The `Ledger`: buys the purchases a run needs (`purchases.PURCHASES`), once each, and hands
every check that names one the same `Sale`.

Against a live target the ledger buys every purchase the selected checks need at the start,
each in its own thread, all under the run's one pacer, while the free checks run: the waits
for processing overlap instead of adding up. In process (a virtual clock that only the test
thread moves) it buys each on first use, in order. Either way the purchase only sends; the
checks that consume it judge what came back, so evidence lands on the tests that name it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import httpx

from tryon_suite.errors import ConfigError
from tryon_suite.http.client import CreditBudgetExhausted, TryOnClient, TryOnRequest
from tryon_suite.http.polling import JobTrace, follow_job, location_of
from tryon_suite.http.secret import Secret
from tryon_suite.suite.purchases import PURCHASES, Purchase, Shop

__all__ = ["Ledger", "Sale"]


@dataclass
class Sale:
    """What one purchase brought back: the body sent, the answer, for a job every poll in
    order, and the result downloaded. `error` is what stopped it (a spent budget, the
    network), raised again in each check that consumes it."""

    purchase: Purchase
    body: TryOnRequest
    client: TryOnClient
    response: httpx.Response | None = None
    job_id: str | None = None
    location: str | None = None
    polls: list[httpx.Response] = field(default_factory=list)
    timed_out: bool = False
    download: httpx.Response | None = None
    error: BaseException | None = None
    #: on the target's clock, when an answer first carried the result (its hour began before)
    result_seen_at: float | None = None

    @property
    def result_url(self) -> str | None:
        body = self._last_body()
        url = body.get("result_url") if isinstance(body, dict) else None
        return url if isinstance(url, str) and url else None

    def _last_body(self) -> Any:
        answer = self.polls[-1] if self.purchase.kind == "job" and self.polls else self.response
        if answer is None or answer.status_code != 200:
            return None
        try:
            return answer.json()
        except ValueError:
            return None


class _Stopped(Exception):
    """The run ended: a purchase still waiting gives up."""


class _StopPolling(Exception):
    """A poll answer the check will fail on: no use polling on until the timeout."""


def _read_or_stop(trace: JobTrace, response: httpx.Response) -> None:
    try:
        body = response.json() if response.status_code == 200 else None
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("status"), str):
        raise _StopPolling
    trace.statuses.append(body["status"])
    trace.last = body


class Ledger:
    """Buys the purchases a run needs, once each, and hands every consumer the same `Sale`."""

    #: polls after a job's final state, to see it stay final (the job machine polls more)
    EXTRA_POLLS = 1
    #: the longest the sync purchases wait for the jobs' first polls (a job that hangs)
    JOBS_FIRST = 5.0

    def __init__(
        self,
        target: Shop,
        names: Iterable[str],
        *,
        concurrent: bool,
        attributed: Callable[[str], contextlib.AbstractContextManager[None]] | None = None,
        poll_again_after: float = 0.0,
    ) -> None:
        unknown = sorted(set(names) - set(PURCHASES))
        if unknown:
            raise ConfigError(f"expected purchases from {sorted(PURCHASES)}, got {unknown}")
        wanted = set(names)
        self.names = [n for n in PURCHASES if n in wanted]
        self._target = target
        self._concurrent = concurrent
        #: what a purchase thread's exchanges are tagged with while it buys (the cassette)
        self._attributed = attributed or (lambda name: contextlib.nullcontext())
        #: bought one by one, how long a job waits after its first poll: a plan's rehearsal of
        #: a concurrent run waits as a live job waits for a sync answer sent with it
        self._poll_again_after = poll_again_after
        self._sales: dict[str, Sale] = {}
        self._futures: dict[str, Future[Sale]] = {}
        self._lock = threading.Lock()
        self._count_lock = threading.Lock()
        #: set once a sync purchase has its result (a job accepted with it is about done), or
        #: once every sync purchase has ended without one
        self._first_answer = threading.Event()
        self._sync_left = sum(PURCHASES[n].kind == "sync" for n in self.names)
        if not self._sync_left:
            self._first_answer.set()
        #: live, the sync purchases are sent once every followed job has been polled once (or
        #: has ended): that poll then comes before the pacer's queue of purchases, while the
        #: job still runs, as a serial run's poll does
        self._unpolled = {
            n for n in self.names if PURCHASES[n].kind == "job" and PURCHASES[n].follow
        }
        self._jobs_polled = threading.Event()
        if not self._unpolled:
            self._jobs_polled.set()
        self._threads: list[threading.Thread] = []
        self._stopped = threading.Event()
        #: what the credit budget said to each purchase at start (None: a credit is promised)
        self._promised: dict[str, BaseException | None] = {}
        #: the balance read before the run's first paid request and after its last one
        self.balance_before: httpx.Response | None = None
        self.balance_after: httpx.Response | None = None
        #: the other account's balance before anything was bought (None: no other key)
        self.other_before: httpx.Response | None = None
        #: the client that read them (its exchanges count in the run's requests)
        self.client = target.client()

    def start(self) -> None:
        """Read the balance and promise each purchase its credit, in catalogue order, before
        any check spends (a credit budget goes to the purchases that serve most); live, buy
        everything now, concurrently."""
        self.balance_before = self._balance()
        if self._target.other_key is not None:
            self.other_before = self._balance(self._target.other_key)
        self._promised = {name: self._reserve(name) for name in self.names}
        if not self._concurrent or not self.names:
            return
        for index, name in enumerate(self.names):
            self._futures[name] = self._spawn(index, name, self._promised.pop(name))

    def _spawn(self, index: int, name: str, refused: BaseException | None) -> Future[Sale]:
        """Buy `name` in a daemon thread of its own: a target that stops answering leaves it
        waiting on the wire, and the run ends without waiting for it (`close`)."""
        future: Future[Sale] = Future()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(self._bought(name, refused))
            except BaseException as exc:  # handed to the consumer, as a pool would
                future.set_exception(exc)

        thread = threading.Thread(target=run, name=f"tryon-purchase_{index}", daemon=True)
        self._threads.append(thread)
        thread.start()
        return future

    def sale(self, name: str) -> Sale:
        """The purchase's sale: waited for (live) or bought now (in process, first use)."""
        if name not in PURCHASES:
            raise ConfigError(f"expected a purchase from {sorted(PURCHASES)}, got {name!r}")
        if name in self._futures:
            return self._futures[name].result()
        with self._lock:
            if name not in self._sales:
                # its credit was promised (or refused) at start; one no collected check
                # declared asks now
                refused = (
                    self._promised.pop(name) if name in self._promised else self._reserve(name)
                )
                self._sales[name] = self._buy(name, refused)
            return self._sales[name]

    def settle(self) -> None:
        """Wait until every purchase has ended: nothing paid is in flight after this."""
        for future in self._futures.values():
            future.result()

    def close(self) -> None:
        """Stop what no check waited for (a run stopped early, an interrupt: polling ends at
        its next wait), then read the balance again. Once: a second call does nothing."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        watch = self._target.watch
        if watch is None or watch.stopped is None:
            for thread in self._threads:
                thread.join()
        # else the target stopped answering: a purchase still on the wire is left to its
        # timeout in its daemon thread, and the balance is not asked of a silent target
        self.balance_after = self._balance()
        for sale in self.sales:  # their exchanges stay recorded for the report
            sale.client.close()
        self.client.close()

    @property
    def sales(self) -> list[Sale]:
        """Every purchase bought so far (or refused by the credit budget)."""
        done = {n: f.result() for n, f in self._futures.items() if f.done() and not f.cancelled()}
        done.update(self._sales)
        return [done[n] for n in PURCHASES if n in done]

    def refused(self, name: str) -> bool:
        """Whether the credit budget refused `name` (bought or not)."""
        if name in self._promised:
            return self._promised[name] is not None
        sale = next((s for s in self.sales if s.purchase.name == name), None)
        return sale is not None and isinstance(sale.error, CreditBudgetExhausted)

    def _balance(self, key: Secret | None = None) -> httpx.Response | None:
        try:
            return self.client.credits() if key is None else self.client.credits(key=key)
        except Exception:  # a spent budget, the network: the spend is counted instead
            return None

    def _reserve(self, name: str) -> BaseException | None:
        try:
            self._target.credits.reserve(f"purchase {name!r}")
        except CreditBudgetExhausted as exc:  # the sale reports it to each consumer
            return exc
        return None

    def _sleep(self, seconds: float) -> None:
        """A purchase thread's wait (between polls, before a retry), cut short by `close`."""
        if self._stopped.wait(seconds):
            raise _Stopped("the run ended before this purchase did")

    def _bought(self, name: str, refused: BaseException | None) -> Sale:
        """`_buy` in a purchase thread, its exchanges tagged with the purchase's name."""
        with self._attributed(name):
            return self._buy(name, refused)

    def _buy(self, name: str, refused: BaseException | None) -> Sale:
        purchase = PURCHASES[name]
        client = self._target.client()
        if self._concurrent:
            client.sleep = self._sleep
        sale = Sale(purchase, purchase.build(self._target), client)
        if refused is not None:
            sale.error = refused
            return sale
        try:
            if purchase.kind == "sync" and self._concurrent:
                self._jobs_polled.wait(self.JOBS_FIRST)
            sale.response = client.try_on(sale.body, prepaid=True)
            if purchase.kind == "sync":
                sale.result_seen_at = self._target.now()
                if sale.response.status_code == 200:
                    self._first_answer.set()
            elif sale.response.status_code == 202 and purchase.follow:
                self._follow(sale)
            if sale.download is None and sale.result_url is not None:
                sale.download = client.download(sale.result_url)
        except Exception as exc:  # raised again where the sale is judged
            sale.error = exc
        finally:
            if purchase.kind == "sync":
                with self._count_lock:
                    self._sync_left -= 1
                    if self._sync_left <= 0:
                        self._first_answer.set()
            else:
                self._polled_once(name)
        return sale

    def _polled_once(self, name: str) -> None:
        with self._count_lock:
            self._unpolled.discard(name)
            if not self._unpolled:
                self._jobs_polled.set()

    def _follow(self, sale: Sale) -> None:
        """Live, poll the job once at once (to see it in motion; the sync purchases wait for
        that poll), again once a sync purchase has answered (it took about as long as the job
        will), then on the target's poll policy; every answer is kept, in order, for the
        checks to judge."""
        assert sale.response is not None
        client, policy = sale.client, self._target.poll
        try:
            body = sale.response.json()
            sale.job_id = str(body["job_id"])
            sale.location = location_of(sale.response)
        except (ValueError, KeyError, TypeError):
            return  # the consumer fails the 202 itself
        polls: list[httpx.Response] = []

        def until_about_done() -> None:
            # The first poll has seen the job in motion (a running job's answer can break its
            # clauses); the next waits until it is about done: live, until a sync purchase
            # sent with it has answered; in a rehearsal, one processing time.
            if self._concurrent and not self._first_answer.is_set():
                self._first_answer.wait(policy.timeout)
            else:
                client.sleep(self._poll_again_after or policy.interval)

        def keep(trace: JobTrace, response: httpx.Response) -> None:
            self._polled_once(sale.purchase.name)
            polls.append(response)
            _read_or_stop(trace, response)
            if trace.final == "completed" and sale.result_seen_at is None:
                sale.result_seen_at = self._target.now()

        try:
            trace = follow_job(
                client,
                sale.location,
                policy,
                job_id=sale.job_id,
                judge=keep,
                after_first_poll=(
                    until_about_done if self._concurrent or self._poll_again_after else None
                ),
            )
            sale.timed_out = trace.timed_out
            url = trace.last.get("result_url")
            if trace.final == "completed" and isinstance(url, str) and url:
                # fetched the moment the job shows it, as a client would, before polling on
                sale.download = client.download(url)
            if trace.final is not None:
                for _ in range(self.EXTRA_POLLS):
                    polls.append(client.job(sale.location))
        except _StopPolling:
            pass
        finally:
            sale.polls = polls
