"""Waking our code on time: the scheduler port, its APScheduler adapter and the leader election.

Only the port is exported here; `bootstrap` imports the adapter (`apscheduler_adapter`) and the
election (`leader`) by their modules.
"""

from orchestrator.scheduler.port import (
    DEFAULT_MISFIRE_GRACE,
    JobHandler,
    JobScheduler,
    ScheduledJob,
    UnknownJobKind,
)

__all__ = ["DEFAULT_MISFIRE_GRACE", "JobHandler", "JobScheduler", "ScheduledJob", "UnknownJobKind"]
