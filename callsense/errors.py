"""The exception tree of callsense.

    CallsenseError
    ├── PermanentError               retrying cannot help: the input or the configuration is wrong
    │   ├── ConfigError              settings are invalid or a required file is missing
    │   │   └── SchemaVersionError   the database schema is older or newer than this version knows
    │   ├── BackupError              a backup is damaged, incomplete, or cannot be made or restored
    │   ├── BadAudioError            the recording is empty, corrupt, not audio, or too long
    │   ├── ModelAssetError          a model file is missing or fails its checksum
    │   ├── DecryptionError          a ciphertext does not open with the keys we hold
    │   │   └── DataKeyDestroyedError the call's data key was destroyed (erased): it never opens again
    │   ├── AnalysisError            the LLM gave no valid field of the analysis
    │   ├── NotFoundError            no such call, delivery, blob, token or user
    │   ├── InvalidBlobKeyError      a blob key outside the allowed form (also a ValueError)
    │   ├── SignatureError           an incoming webhook is not authentic; ``reason`` says why
    │   ├── WebhookReplayError       a webhook id seen before came with another call
    │   ├── UnsatisfiableRangeError  a byte range outside the recording was asked for
    │   ├── BlobStoreRefusedError    the blob store refuses: no such bucket, access denied, no credentials
    │   ├── PermanentFetchError      the recording's source refuses for good, or is not one we fetch
    │   │   ├── AddressRefusedError  the URL's host is a non-public address that is not allowlisted
    │   │   ├── StatusError          the recording server answered a final error status (404, 403...)
    │   │   └── RecordingRefusedError a file a source listed cannot become a call (name, sidecar)
    │   └── CRMRejectedError         a CRM refused a delivery (4xx other than 408/429); its reason is kept
    └── RetryableError               a later attempt may succeed: network, a busy server
        ├── FetchError               the recording could not be downloaded
        │   ├── RetryableStatusError the recording server answered 5xx, 408 or 429; may name a wait
        │   └── SourceUnavailableError a source's folder or file cannot be read now
        ├── BlobStoreUnavailableError the blob store did not answer, or answered 5xx, 408 or 429
        ├── DatabaseUnavailableError the database did not answer (down, restarting, unreachable)
        ├── LLMUnavailableError      the LLM back-end did not answer, throttled or failed; may name a wait
        ├── CRMUnavailableError      a CRM timed out, throttled (429) or failed (5xx); may name a wait
        ├── UnexpectedError          an error that is none of these (a bug, a full disk), without its message
        │   └── UnexpectedStageError a stage stopped on one
        └── WorkerLostError          the worker running a job stopped heart-beating (killed, out of memory)

Library errors are translated into these at the boundary and re-raised ``from exc``; only the CLI, the
API and the dashboard turn them into exit codes, JSON answers and pages.
"""

from __future__ import annotations


class CallsenseError(Exception):
    """Root of every error callsense raises on purpose."""

    retryable: bool = False


class PermanentError(CallsenseError):
    retryable = False


class RetryableError(CallsenseError):
    """A later attempt may succeed; ``retry_after`` is the seconds the server asked to wait in its
    ``Retry-After`` header (``backends.http_status.retry_after_s``), if it sent one: a queued stage waits at
    least that long, up to its cap (``retries.Backoff``)."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ConfigError(PermanentError):
    pass


class SchemaVersionError(ConfigError):
    """The database schema is at a revision this version does not run against: ``callsense db upgrade``
    brings an older one forward; a newer one needs the newer callsense."""


class BackupError(PermanentError):
    pass


class BadAudioError(PermanentError):
    pass


class ModelAssetError(PermanentError):
    pass


class DecryptionError(PermanentError):
    pass


class DataKeyDestroyedError(DecryptionError):
    """The call's data key was destroyed (erasure): none of its ciphertexts, wherever copied, opens again."""


class AnalysisError(PermanentError):
    pass


class NotFoundError(PermanentError):
    pass


class CallGoneError(NotFoundError):
    """The call's row is gone (erased on request): a queued stage that meets it has nothing left to do."""


class LegalHoldError(PermanentError):
    """The call is under legal hold: it may be neither purged nor erased until an admin releases it."""


class InvalidBlobKeyError(PermanentError, ValueError):
    """A blob key or prefix outside the allowed form: a programming error, never retried."""


class BlobStoreRefusedError(PermanentError):
    """The blob store refuses for good: the bucket does not exist, the credentials are wrong or missing, the
    policy denies the access. Retrying cannot help until the settings or the bucket change."""


class BlobStoreUnavailableError(RetryableError):
    """The blob store could not be reached, cut the connection, or answered 5xx, 408 or 429."""


class DatabaseUnavailableError(RetryableError):
    """No answer from the database server: it is down, restarting, or cannot be reached."""


class FetchError(RetryableError):
    pass


class RetryableStatusError(FetchError):
    """The recording server answered 5xx, 408 or 429: a later attempt may succeed, not sooner than its
    ``Retry-After`` if it sent one (a recorder under load, a rate-limited gateway)."""

    def __init__(self, message: str, *, status: int, retry_after: float | None = None) -> None:
        super().__init__(message, retry_after=retry_after)
        self.status = status


class PermanentFetchError(PermanentError):
    """The source answered but refuses for good (404, 403, a URL we will not fetch)."""


class AddressRefusedError(PermanentFetchError):
    """The URL's host is, or resolves to, an address callsense does not download from."""


class StatusError(PermanentFetchError):
    """The recording server answered with a final error status (404, 403...)."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class RecordingRefusedError(PermanentFetchError):
    """A file a source listed cannot become a call: its name does not match the source's pattern, or its
    sidecar does not parse. Taken again only once the file changes."""


class SourceUnavailableError(FetchError):
    """A source's folder is missing or cannot be listed, or a file in it cannot be read: the next poll tries
    again."""


class LLMUnavailableError(RetryableError):
    """The LLM back-end did not answer now; ``retry_after`` is the server's own ``Retry-After`` in seconds, if
    it sent one with a 429 or 5xx."""


class CRMUnavailableError(RetryableError):
    """A CRM did not take the delivery now; ``retry_after`` is its own ``Retry-After`` in seconds, if sent."""

    def __init__(self, message: str, *, retry_after: float | None = None, status: int | None = None) -> None:
        super().__init__(message, retry_after=retry_after)
        self.status = status


class CRMRejectedError(PermanentError):
    """A CRM refused the delivery for good (bad credentials, a field it does not accept)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class UnexpectedError(RetryableError):
    """An exception callsense does not raise on purpose, named by its type alone (``logs.unexpected``): a
    job or a request stopped on it, and the log has its traceback without its message."""


class UnexpectedStageError(UnexpectedError):
    """A stage stopped on an exception callsense does not raise on purpose (a bug, a full disk, a library's
    failure); the original's traceback is logged without its message (which may quote the call). Retryable
    as the queue treats any error it cannot tell permanent: it runs the job again, up to the stage's
    attempts."""


class WorkerLostError(RetryableError):
    """The worker running a job stopped without finishing it (SIGKILL, the OOM killer, a crash, a lost
    machine): what stalled-job recovery asks the job's retry strategy about (``pipeline/stalled.py``)."""


class SignatureError(PermanentError):
    """A webhook is not authentic. ``reason`` is machine-readable: ``missing_header``, ``bad_timestamp``,
    ``expired``, ``future_timestamp``, ``malformed_header``, ``bad_signature``, ``bad_token``,
    ``body_mismatch``; ``header`` names the (lower-case) header at fault, if any."""

    def __init__(self, reason: str, message: str, *, header: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.header = header


class WebhookReplayError(PermanentError):
    """A ``webhook-id`` seen before came with another call: not the sender's retry of that message."""


class UnsatisfiableRangeError(PermanentError):
    """A byte range of a recording that is malformed or lies outside it; ``size`` is the recording's."""

    def __init__(self, size: int) -> None:
        super().__init__(f"the range asked for lies outside the recording's {size} bytes")
        self.size = size


class NoTranscriptError(NotFoundError):
    """The call exists but has no transcript (not transcribed yet, or no speech): nothing to ask about."""
