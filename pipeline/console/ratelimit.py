"""Login rate limiting: failed attempts per (account, client address) and per address, in a
sliding window.

Why not per account: a limit on the account alone is a lockout tool, since anyone who knows a
user name (an officer sees whose reviews they get) could keep its owner out with five wrong
passwords. So an account is refused only to the address that used up its failures on it
(``attempts`` in the window); the owner elsewhere still logs in. An address is refused for every
account after ``IP_FACTOR`` times as many failures (guessing across many user names; several
people may share one address behind a NAT). The address is the client's as the console sees it:
behind a TLS proxy, the one the proxy names in ``X-Forwarded-For``, believed only from the
addresses of ``console_trusted_proxies`` (see :func:`client_address`), or every user behind the
proxy would share one budget.

What this leaves: guessing one account's password from many addresses is slowed by argon2 and each
address's budget, not stopped; put a proxy limit in front for that (docs/console.md).

Kept in the console process's memory: a restart forgets it, and several console processes each
count on their own (put the login behind one process or a proxy limit when scaling out).
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

IP_FACTOR = 4
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class LoginLimiter:
    """At most ``attempts`` failures per (user, address), ``IP_FACTOR`` times that per address,
    in ``window_s``."""

    def __init__(self, attempts: int, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.attempts = attempts
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def blocked(self, username: str, address: str) -> bool:
        """Whether this address has used up its failures on this account, or on all of them."""
        with self._lock:
            return (
                len(self._recent(_account(username), address)) >= self.attempts
                or len(self._recent("", address)) >= self.attempts * IP_FACTOR
            )

    def fail(self, username: str, address: str) -> None:
        with self._lock:
            now = self._clock()
            for key in ((_account(username), address), ("", address)):
                self._recent(*key).append(now)

    def succeed(self, username: str, address: str) -> None:
        """A right password clears this address's failures on this account (not its total)."""
        with self._lock:
            self._failures.pop((_account(username), address), None)

    def _recent(self, account: str, address: str) -> deque[float]:
        failures = self._failures.setdefault((account, address), deque())
        horizon = self._clock() - self.window_s
        while failures and failures[0] < horizon:
            failures.popleft()
        if not failures:
            del self._failures[(account, address)]
            failures = self._failures.setdefault((account, address), deque())
        return failures


def _account(username: str) -> str:
    return "user:" + username.lower()


def parse_networks(text: str) -> tuple[Network, ...]:
    """``console_trusted_proxies``: addresses or networks separated by commas or spaces."""
    items = [part for part in text.replace(",", " ").split() if part]
    return tuple(ipaddress.ip_network(part, strict=False) for part in items)


def client_address(peer: str, forwarded_for: Sequence[str], trusted: Sequence[Network]) -> str:
    """The client's address: the peer, unless the peer is a trusted proxy; then the nearest
    address in ``X-Forwarded-For`` (read from the right, as each proxy appends the one it saw)
    that is not itself a trusted proxy. An entry that is no address ends the walk (a client may
    write anything on the left of the header, so nothing left of a bad entry is believed)."""
    if not _trusted(peer, trusted):
        return peer
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",") if hop.strip()]
    address = peer
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            break
        address = hop
        if not _trusted(hop, trusted):
            break
    return address


def _trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)
