"""What a run may spend: requests (`Budget`) and credits (`Credits`), and the two transports
that keep a client within them.

`BudgetTransport` counts each attempt that goes on, and refuses one past the budget before it
is sent. `CreditsTransport` reserves a credit before a try-on that may succeed goes (once,
whatever its retries) and settles the reservation on the answer its caller gets.
"""

from __future__ import annotations

import threading
import unittest
from typing import Final

import httpx

from tryon_suite.errors import TryonError
from tryon_suite.http.request import endpoint

__all__ = [
    "CREDIT_BUDGET",
    "PREPAID",
    "Budget",
    "BudgetExhausted",
    "BudgetTransport",
    "CreditBudgetExhausted",
    "Credits",
    "CreditsTransport",
    "is_paid",
]

#: Per request: its caller reserved the try-on's credit itself (`Credits.reserve`).
PREPAID: Final = "tryon_suite.prepaid"

#: What a skip for want of credits says (the report shows it as the reason).
CREDIT_BUDGET: Final = "credit budget"


class BudgetExhausted(TryonError, unittest.SkipTest):
    """The run's request budget is spent: what remains is not checked, never passed.

    A skip by kind, so that pytest reports it as one and Hypothesis stops at once instead of
    shrinking an "error" that every further example repeats."""


class CreditBudgetExhausted(BudgetExhausted):
    """The run's credit budget is spent or promised: the check is "not checked: credit
    budget", never passed."""


class Budget:
    """The most requests a run may send (None: no limit); counts what was sent, from any
    thread of the run."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit
        self.sent = 0
        self._lock = threading.Lock()

    def spend(self) -> None:
        with self._lock:
            if self.limit is not None and self.sent >= self.limit:
                raise BudgetExhausted(
                    f"expected at most {self.limit} requests (--tryon-budget), all are spent"
                )
            self.sent += 1


def is_paid(status: int | None) -> bool:
    """Whether an answer to POST /v1/try-on with `status` is a success, which costs credits
    (API.md: a result, or a job accepted; a job that fails later is usually refunded)."""
    return status in (200, 202)


class Credits:
    """The run's credits: the most it may spend (None: no limit), what successes were counted,
    and what is promised to requests in flight that may succeed.

    A request that may cost reserves one credit before it goes; its answer settles the
    reservation (kept when it was a success, released otherwise). A request sent without a
    reservation (one the contract says must be refused) is still counted when it succeeds."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit
        self.spent = 0
        self.reserved = 0
        #: the most ever spent and promised at once: the budget under which nothing was refused
        self.peak = 0
        self._lock = threading.Lock()

    def reserve(self, what: str = "a try-on that may succeed") -> None:
        with self._lock:
            if self.limit is not None and self.spent + self.reserved >= self.limit:
                raise CreditBudgetExhausted(
                    f"{CREDIT_BUDGET}: {what} would pass --tryon-credit-budget {self.limit} "
                    f"({self.spent} spent, {self.reserved} promised to requests in flight)"
                )
            self.reserved += 1
            self.peak = max(self.peak, self.spent + self.reserved)

    def settle(self, reserved: bool, paid: bool) -> None:
        with self._lock:
            if reserved:
                self.reserved -= 1
            if paid:
                self.spent += 1


class BudgetTransport(httpx.BaseTransport):
    """Spends one request of `budget` per attempt it passes on (a redirect chain followed
    below is one); past the budget, raises BudgetExhausted and sends nothing."""

    def __init__(self, inner: httpx.BaseTransport, budget: Budget) -> None:
        self.inner = inner
        self.budget = budget

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.budget.spend()
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


class CreditsTransport(httpx.BaseTransport):
    """Keeps the account of each POST /v1/try-on in `credits`: with `may_spend`, a credit is
    reserved before it goes (none for a request `PREPAID` by its caller); its answer, or its
    failure, settles the reservation, and a success is counted even without one (a check
    the contract says is refused sends without: `may_spend` False)."""

    def __init__(
        self, inner: httpx.BaseTransport, credits: Credits, *, may_spend: bool = True
    ) -> None:
        self.inner = inner
        self.credits = credits
        self.may_spend = may_spend

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "POST" or endpoint("POST", str(request.url)) != "try-on":
            return self.inner.handle_request(request)
        prepaid = bool(request.extensions.get(PREPAID, False))
        reserved = self.may_spend and not prepaid
        if reserved:
            self.credits.reserve()
        response = None
        try:
            response = self.inner.handle_request(request)
            return response
        finally:
            paid = response is not None and is_paid(response.status_code)
            self.credits.settle(reserved or prepaid, paid)

    def close(self) -> None:
        self.inner.close()
