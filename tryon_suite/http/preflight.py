"""Preflight: before the first check of a live run, the target answers and every key works.

A user's setup mistake (a URL that does not answer, a key the target does not know) is not
the API's fault: it ends the run at once with one line naming the problem and the fix, instead
of minutes of requests and a report of failing clauses. Each probe is a request the target
refuses for its body (`garment_mode` outside the enum): it costs no credits, and its status
tells a known key (400, or 403 for the no-credit key) from an unknown one (401). Where the
target has `GET /v1/credits`, its answer (200 or 401) is asked first: it does not depend on the
order in which the target checks a try-on (an open point).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import httpx

from tryon_suite.errors import PreflightError
from tryon_suite.http.request import CREDITS, TRY_ON
from tryon_suite.http.retry import parse_retry_after
from tryon_suite.http.secret import Secret, key_problem, reveal
from tryon_suite.http.wire import tls_context

__all__ = ["PROBE_BODY", "KeyToCheck", "preflight", "preflight_for_tool", "unusable_key"]

#: Refused for its body after authentication: free, and it tells the key's standing.
PROBE_BODY: Final = {"garment_mode": "tryon-suite-preflight"}
#: The whole preflight answers within seconds: a target slower than this to connect is down.
_TIMEOUT: Final = httpx.Timeout(8.0, connect=4.0)


@dataclass(frozen=True)
class KeyToCheck:
    """A key given to the run, with the option that gave it (named in the message)."""

    key: Secret
    option: str
    #: a key with no credits may fairly be refused 403 before its body is read
    may_lack_credits: bool = False


def unusable_key(key: Secret | str, option: str) -> str | None:
    """The one line saying why the key given with `option` cannot be sent at all (empty,
    non-ASCII, ...), never quoting it; None when it can. Every tool says it in these words."""
    problem = key_problem(reveal(key))
    return None if problem is None else f"the key given with {option} cannot be used: {problem}"


def preflight(
    base_url: str,
    keys: list[KeyToCheck],
    *,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] | None = None,
    url_option: str = "--tryon-base-url",
    no_credits_option: str | None = "--tryon-no-credits-key",
) -> int:
    """Raise PreflightError naming the first problem: a key that cannot go in a header,
    unreachable, not the API, a key refused; else return how many requests it sent (they are
    part of what the run costs). The messages name the tool's own options: `url_option` for
    the base URL, `no_credits_option` (None: the tool takes no such key) in the 403's fix."""
    for check in keys:
        if (line := unusable_key(check.key, check.option)) is not None:
            raise PreflightError(line)
    url = base_url.rstrip("/") + TRY_ON
    sent = 0

    def counted(response: httpx.Response) -> httpx.Response:
        nonlocal sent
        sent += 1
        return response

    hooks = {"response": [counted]}
    with httpx.Client(
        timeout=_TIMEOUT, transport=transport, verify=tls_context(), event_hooks=hooks
    ) as http:
        for check in keys:
            credits = base_url.rstrip("/") + CREDITS
            balance = _probe(http, "GET", credits, check, base_url, url_option, sleep)
            if balance.status_code == 200:
                left = _credits_left(balance)
                if check.may_lack_credits and left is not None and left > 0:
                    # its refusals (403) would never come: every no-credit check would
                    # spend instead
                    raise PreflightError(
                        f"the key given with {check.option} has credits at {base_url} "
                        f"(balance {left:g}): give a key whose balance is 0, or leave the "
                        f"option out"
                    )
                continue
            response = balance
            if balance.status_code != 401:
                response = _probe(http, "POST", url, check, base_url, url_option, sleep)
            status = response.status_code
            if status == 401:
                raise PreflightError(
                    f"the key given with {check.option} was refused by {base_url} (401): "
                    f"check the key, and that it belongs to this target"
                )
            if status == 403 and not check.may_lack_credits:
                # A known key without credits: every paid check would be refused.
                fix = f", or give it as {no_credits_option}" if no_credits_option else ""
                raise PreflightError(
                    f"the key given with {check.option} has no credits at {base_url} (403): "
                    f"top the account up{fix}"
                )
            if status in (404, 405):
                raise PreflightError(
                    f"expected POST {url} to refuse a bad body with 400, got {status}: "
                    f"is {url_option} the API's root (the part before /v1)?"
                )
            if status >= 500:
                raise PreflightError(
                    f"{base_url} answered {status} to a request it should refuse with 400: "
                    "the service is failing; try again later"
                )
            # Any other refusal (400, 415, 422, 403 for the no-credit key, a 429 that lasted:
            # limits count known accounts) came after the key was taken.
    return sent


#: Where a balance body keeps what is left (its shape is open: `credits`, or a balance under
#: `remaining` or `balance` beside a `total`); figures named otherwise are not what is left.
_LEFT: Final = ("credits", "remaining", "balance", "available", "credits_remaining")


def preflight_for_tool(
    prog: str, host: str, keys: list[KeyToCheck], transport: httpx.BaseTransport | None
) -> bool:
    """The preflight of a command-line tool that takes its target as `--host` and no
    no-credits key: False after printing its one line to stderr (the tool then exits 4)."""
    try:
        preflight(
            host,
            keys,
            transport=transport,
            sleep=time.sleep,
            url_option="--host",
            no_credits_option=None,
        )
    except PreflightError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return False
    return True


def _credits_left(response: httpx.Response) -> float | None:
    """The credits a balance says are left, where its shape says it plainly; else None."""
    try:
        body = response.json()
    except ValueError:
        return None
    for _ in range(3):  # a balance nested under a wrapper ({"data": {...}})
        if isinstance(body, int | float) and not isinstance(body, bool):
            return float(body)
        if not isinstance(body, dict):
            return None
        named = [body[k] for k in _LEFT if k in body]
        if named:
            body = named[0]
        elif len(body) == 1:
            body = next(iter(body.values()))
        else:
            return None
    return None


def _probe(
    http: httpx.Client,
    method: str,
    url: str,
    check: KeyToCheck,
    base_url: str,
    url_option: str,
    sleep: Callable[[float], None] | None,
) -> httpx.Response:
    for attempt in range(3):
        try:
            response = http.request(
                method,
                url,
                json=PROBE_BODY if method == "POST" else None,
                headers={"X-API-KEY": check.key.reveal()},
            )
        except httpx.TimeoutException:
            raise PreflightError(
                f"{base_url} did not answer within {_TIMEOUT.read:g} s: "
                f"check {url_option} and that the service is up"
            ) from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            reason = type(exc).__name__
            raise PreflightError(
                f"cannot reach {base_url} ({reason}): check {url_option} and that the service is up"
            ) from None
        transient = response.status_code == 429 or response.status_code in (502, 503, 504)
        if not transient or sleep is None or attempt == 2:
            return response
        # Another client shares the account's limit, or a gateway hiccuped: wait, ask again.
        sleep(min(parse_retry_after(response.headers.get("retry-after")) or 1.0, 3.0))
    return response
