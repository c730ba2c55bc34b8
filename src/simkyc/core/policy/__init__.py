"""Policy as data and the pure decision: quotas, windows, blocklists, thresholds -> Decision."""

from simkyc.core.policy.decide import *
from simkyc.core.policy.policy import *

__all__ = [
    "Blocklists",
    "Decision",
    "Evidence",
    "Holdings",
    "Outcome",
    "Policy",
    "Retention",
    "Thresholds",
    "decide",
    "precheck",
]
