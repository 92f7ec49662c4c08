"""Settings of the job queue: the heartbeat every callsense process sends, when a silent one is taken as
gone (its jobs handed to another worker), and the first wait of each stage's retries."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

# A process is taken as gone only after missing this many heartbeats in a row: one late beat (a busy
# machine, a slow query) must not hand its running jobs to a second worker.
HEARTBEATS_BEFORE_STALLED = 3


class RetryBases(BaseModel):
    """The first wait, in seconds, before a stage runs again after a retryable failure (doubling after)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fetch: float = Field(
        default=5,
        gt=0,
        description="Downloading a recording (a recorder or network blip). Each further retry waits twice as "
        "long, up to the stage's cap; docs/service.md lists the worst cases at the defaults.",
    )
    transcribe: float = Field(default=10, gt=0, description="Transcribing (a lost worker, a full disk).")
    analyse: float = Field(default=10, gt=0, description="The LLM's analysis (an LLM server down a while).")
    categorise: float = Field(default=5, gt=0, description="Re-evaluating stored calls' categories.")
    deliver: float = Field(
        default=10,
        gt=0,
        description="A delivery that failed without a CRM's own wait (the destination's retry_initial_s "
        "applies to a CRM that is down: this is for the database gone for a moment).",
    )


class QueueSettings(BaseModel):
    """The job queue: heartbeats, taking a silent process as gone, and the waits between a stage's runs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    heartbeat_s: float = Field(
        default=5,
        gt=0,
        description="How often every worker and every serve tells the queue it is alive.",
    )
    stalled_after_s: float = Field(
        default=30,
        gt=0,
        description="Seconds without a heartbeat after which a process is taken as gone (SIGKILL, a crash, a "
        "lost machine): its running jobs go back to the queue for another worker, and it no longer holds "
        "back `db upgrade` or `backup restore`. At least 3 heartbeats; the same on every machine. The "
        "recovery looks every twice this long, at most once a minute.",
    )
    retry_base_s: RetryBases = Field(default_factory=RetryBases)

    @model_validator(mode="after")
    def _several_heartbeats(self) -> QueueSettings:
        if self.stalled_after_s < HEARTBEATS_BEFORE_STALLED * self.heartbeat_s:
            raise ValueError(
                f"queue.stalled_after_s ({self.stalled_after_s:g}) must be at least "
                f"{HEARTBEATS_BEFORE_STALLED} heartbeats (queue.heartbeat_s {self.heartbeat_s:g}): a process "
                "whose heartbeat is late once would be taken as gone while it still runs its jobs"
            )
        return self

    @property
    def recovery_every_s(self) -> int:
        """How often the stalled jobs are looked for: a stalled job waits at most three times
        ``stalled_after_s`` before another worker takes it."""
        return max(1, min(60, round(2 * self.stalled_after_s)))
