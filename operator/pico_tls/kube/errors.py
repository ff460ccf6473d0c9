"""How a request fails: the API's answer (`KubeError`, never carrying a request body, which
may hold Secret data), the fence's refusal, and the user's commands' own two cases."""

from __future__ import annotations


class KubeError(RuntimeError):
    def __init__(
        self,
        method: str,
        path: str,
        status: int,
        reason: str,
        message: str = "",
        api_reason: str = "",
    ):
        self.status = status
        self.reason = reason
        self.message = message
        self.api_reason = api_reason or reason  # the Status reason: Invalid, Forbidden, ...
        super().__init__(f"{method} {path}: {status} {reason} {message}".strip())

    @property
    def conflict(self) -> bool:
        """409: the object exists already (create), or changed since it was read (update)."""
        return self.status == 409

    @property
    def namespace_terminating(self) -> bool:
        """A create refused because its namespace is being deleted: nothing left to do there."""
        return self.status == 403 and "being terminated" in self.message


class Fenced(RuntimeError):
    """A write refused before it was sent: this replica does not hold the leader Lease."""


class KubeConfigError(RuntimeError):
    """No kubeconfig, or no such context; the message says it for a person."""


class KubeUnreachable(RuntimeError):
    """The API server did not answer (no cluster there, wrong address, network)."""
