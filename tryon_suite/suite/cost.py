"""What a run costs: requests and credits, counted per check, per purchase and in total, and
the plan `--tryon-plan` prints before a live run (its rehearsal on the in-process simulator).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from tryon_suite.http.client import Exchange, is_paid
from tryon_suite.suite.checks import endpoint_of
from tryon_suite.suite.checks.credits import balance_figures
from tryon_suite.suite.results import CreditsSpent

if TYPE_CHECKING:
    from tryon_suite.suite.targets import Target, TargetOptions

__all__ = ["Cost", "credits_spent", "paid_exchange", "plan_lines"]


@dataclass(frozen=True)
class Cost:
    """What one check sent itself (the purchases it judged are counted once, apart)."""

    nodeid: str
    requests: int
    credits: int
    purchases: tuple[str, ...]

    @property
    def group(self) -> str:
        return PurePosixPath(self.nodeid.split("::")[0]).stem.removeprefix("test_")


def paid_exchange(exchange: Exchange) -> bool:
    """A success of POST /v1/try-on: a result or an accepted job, which costs credits."""
    return endpoint_of(exchange) == "try-on" and is_paid(exchange.status)


def credits_spent(target: Target) -> CreditsSpent:
    """The run's spend: counted by the client layer, and from the balance where it answered
    (the figure that went down the most, its shape being open)."""
    ledger = target.ledger
    before = balance_figures(ledger.balance_before if ledger else None)
    after = balance_figures(ledger.balance_after if ledger else None)
    common = [path for path in before if path in after]
    figure = max(common, key=lambda path: before[path] - after[path], default=None)
    return CreditsSpent(
        counted=target.credits.spent,
        budget=target.credits.limit,
        before=before[figure] if figure else None,
        after=after[figure] if figure else None,
        replayed=target.replayed,
    )


def plan_lines(options: TargetOptions, target: Target | None, costs: Sequence[Cost]) -> list[str]:
    """The plan: requests and credits per group of checks, per purchase, and the totals."""
    if target is None or target.ledger is None:
        return ["no check was selected: the run would send nothing"]
    ledger = target.ledger
    rows: dict[str, list[int]] = {}
    for cost in costs:
        row = rows.setdefault(cost.group, [0, 0, 0])
        row[0] += 1
        row[1] += cost.requests
        row[2] += cost.credits
    lines = [
        f"rehearsed on the in-process simulator ({target.rehearsal_processing or 0:g} s "
        f"processing, {target.pacer.initial_rate:g} requests/s paced) with this run's options; "
        f"target {options.base_url or 'in-process simulator'}",
        "",
        f"{'group of checks':<50}{'checks':>7}{'requests':>10}{'credits':>9}",
    ]
    lines += [
        f"{group:<50}{n:>7}{requests:>10}{credits:>9}"
        for group, (n, requests, credits) in sorted(rows.items())
    ]
    bought = {sale.purchase.name: sale for sale in ledger.sales}
    for name in ledger.names:
        sale = bought.get(name)
        exchanges = sale.client.exchanges if sale else []
        users = sum(name in cost.purchases for cost in costs)
        label = f"purchase {name} ({users} checks)"
        note = ""
        if not exchanges:
            note = "  not bought: " + ("credit budget" if ledger.refused(name) else "not used")
        paid = sum(map(paid_exchange, exchanges))
        lines.append(f"{label:<50}{'':>7}{len(exchanges):>10}{paid:>9}{note}")
    reads = len(ledger.client.exchanges)
    lines.append(f"{'balance, read before and after':<50}{'':>7}{reads:>10}{0:>9}")
    requests = sum(r[1] for r in rows.values()) + reads
    requests += sum(len(s.client.exchanges) for s in bought.values())
    credits = target.credits.spent
    lines.append(f"{'total':<50}{len(costs):>7}{requests:>10}{credits:>9}")
    keys = 1 + (options.other_key is not None) + (options.no_credits_key is not None)
    preflight = "and the preflight, before the run (a GET per key)"
    lines.append(f"{preflight:<50}{'':>7}{keys:>10}{0:>9}")
    account = target.credits
    lines += [
        "",
        f"request budget: {options.budget or 'none'}; credit budget: "
        f"{'none' if options.credit_budget is None else options.credit_budget}. Every "
        f"request that may cost is promised a credit before it goes: a credit budget of "
        f"{account.peak} or more lets every check run (the simulator took {account.spent} of "
        "them; a target may take each). A target "
        "that refuses what the simulator accepts spends fewer credits; a job still running "
        "when the first sync answer comes back takes a poll more; a key the balance "
        "endpoint does not answer for costs the preflight a second request."
        + (
            " The burst sends until the first 429: as many requests as the target's bucket "
            "holds, plus what refills while they go."
            if target.allow_burst
            else ""
        ),
    ]
    return lines
