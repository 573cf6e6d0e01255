"""pytest plugin loaded by scripts/test.sh: the run ends with ONE line saying how many tests
were skipped and why (grouped by reason), e.g. when the open-data mirror is missing."""

from collections import Counter

import pytest


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter):
    reasons = Counter()
    for rep in terminalreporter.stats.get("skipped", []):
        lr = rep.longrepr
        reason = lr[2] if isinstance(lr, tuple) and len(lr) == 3 else str(lr)
        reasons[reason.removeprefix("Skipped: ").strip()] += 1
    total = sum(reasons.values())
    if total:
        why = "; ".join(f"{n} × {r}" for r, n in reasons.most_common())
        terminalreporter.write_line(f"test.sh: {total} test{'s' * (total > 1)} SKIPPED — {why}", yellow=True)
