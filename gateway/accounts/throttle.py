"""Sign-in throttling with growing delays, and no way for an attacker to lock a person out.

OWASP Authentication Cheat Sheet ("Protect against automated attacks"), NIST SP 800-63B §5.2.2
and OWASP's "Slow down online guessing attacks with device cookies":

- Each attempt is *admitted* (or refused) before any password is checked. After
  ``free`` attempts that did not succeed, the next must wait ``min(cap, base · 2^(n - free))``
  after the last one; an earlier attempt is refused with the time left
  (:class:`~gateway.accounts.errors.SignInThrottledError`). The server never sleeps.
- Admission counts the attempt at once, atomically (a Lua script), so a burst of concurrent
  guesses cannot all slip through the same open moment; a success then clears the count.
- Counters: per email address (whether or not it has an account, so the throttle itself does
  not tell which addresses exist), per client address (IPv4 address or IPv6 /64), and per
  device. A browser holding a valid device token for the account (issued after an earlier
  full sign-in) is counted on its own device counter *instead of* the address counter: an
  attacker hammering the address from elsewhere delays only browsers without one, never the
  person on their usual device. The per-client-address delay always applies.
- A success forgives the client address only its failures on that same email address (kept
  in a per-(address, client) counter), so signing in to one's own account cannot be used to
  wipe a guessing run against others, while an office behind one NAT address does not pile up
  delays from its own typos.
- Every counter expires after a quiet period with no attempts.

The account's second steps (TOTP, recovery and emailed codes) and password re-entry on
signed-in pages use the same growing delay on a per-account counter (:meth:`admit_step`).
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from dataclasses import dataclass

from gateway.accounts.errors import SignInThrottledError
from gateway.accounts.store import (
    signin_device_key,
    signin_email_key,
    signin_ip_key,
    signin_pair_key,
    step_failures_key,
)
from gateway.core.clock import Clock
from gateway.core.redis import RedisClient

QUIET_SECONDS = 900  # counters are forgotten after this long without an attempt

# KEYS[1] the counter to admit on, KEYS[2] (optional) a plain counter to count alongside.
# ARGV: now (ms), free attempts, base delay (ms), cap (ms), quiet period (ms).
# Returns 0 when admitted (and counted), else the ms to wait.
_ADMIT = """
local now, free = tonumber(ARGV[1]), tonumber(ARGV[2])
local n = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
local last = tonumber(redis.call('HGET', KEYS[1], 'at') or '0')
if n >= free then
  local wait = math.min(tonumber(ARGV[4]), tonumber(ARGV[3]) * 2 ^ (n - free))
  if now < last + wait then return math.ceil(last + wait - now) end
end
redis.call('HINCRBY', KEYS[1], 'n', 1)
redis.call('HSET', KEYS[1], 'at', ARGV[1], 'before', last)
redis.call('PEXPIRE', KEYS[1], ARGV[5])
if KEYS[2] then
  redis.call('INCR', KEYS[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[5])
end
return 0
"""

# KEYS[1] counter, KEYS[2] (optional) plain counter: take back the last admission, its time
# included, so an attempt refused further on cannot be used to push a delay later.
_REFUND = """
if tonumber(redis.call('HGET', KEYS[1], 'n') or '0') > 0 then
  redis.call('HINCRBY', KEYS[1], 'n', -1)
  redis.call('HSET', KEYS[1], 'at', redis.call('HGET', KEYS[1], 'before') or '0')
end
if KEYS[2] and tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then
  redis.call('DECR', KEYS[2])
end
return 1
"""

# KEYS[1] counter to clear, KEYS[2] (optional) plain counter to clear; returns the plain
# counter's value before it was cleared.
_CLEAR = """
local forgiven = 0
if KEYS[2] then forgiven = tonumber(redis.call('GETDEL', KEYS[2]) or '0') end
redis.call('DEL', KEYS[1])
return forgiven
"""

# KEYS[1] a client-address counter; ARGV[1] failures to forgive (never below zero).
_FORGIVE = """
local n = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
if n == 0 then return 0 end
local left = math.max(0, n - tonumber(ARGV[1]))
redis.call('HSET', KEYS[1], 'n', left)
return left
"""


def client_bucket(ip: str) -> str:
    """The unit the per-client counter counts: an IPv4 address, or the /64 network of an
    IPv6 address (one subscriber gets a whole /64, RFC 6177). Unparseable values are
    hashed as they are."""
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return "raw-" + hashlib.sha256(ip.encode()).hexdigest()[:32]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        network = ipaddress.IPv6Network((address, 64), strict=False)
        return str(network.network_address).replace(":", "-") + "-64"
    return str(address)


@dataclass(frozen=True, slots=True)
class Backoff:
    """``free`` attempts without delay, then ``base`` doubling per attempt up to ``cap``."""

    free: int
    base_seconds: float
    cap_seconds: float

    def args(self, now_ms: int, quiet_ms: int) -> list[int | float]:
        return [
            now_ms,
            self.free,
            self.base_seconds * 1000,
            self.cap_seconds * 1000,
            quiet_ms,
        ]


@dataclass(frozen=True, slots=True)
class Admission:
    """An admitted sign-in attempt: the counters it was counted on."""

    counter: str
    pair: str
    client: str


class SignInThrottle:
    def __init__(
        self,
        redis: RedisClient,
        clock: Clock,
        *,
        account: Backoff,
        client: Backoff,
        quiet_seconds: int = QUIET_SECONDS,
    ) -> None:
        self._clock = clock
        self._account = account
        self._client = client
        # A counter must outlive the longest wait, or it would be forgotten mid-delay.
        longest = max(account.cap_seconds, client.cap_seconds)
        self._quiet_ms = int(max(quiet_seconds, 2 * longest) * 1000)
        self._admit = redis.register_script(_ADMIT)
        self._refund = redis.register_script(_REFUND)
        self._clear = redis.register_script(_CLEAR)
        self._forgive = redis.register_script(_FORGIVE)

    async def admit(self, email_key: str, ip: str, device_id: str | None) -> Admission:
        """Count a sign-in attempt for the address with digest ``email_key`` from ``ip``;
        :class:`SignInThrottledError` (nothing counted) when it comes too soon.

        ``device_id`` is the id from a device token already checked to belong to the
        account holding that address; with one, the device's own counter replaces the
        address counter.
        """
        bucket = client_bucket(ip)
        counter = (
            signin_email_key(email_key)
            if device_id is None
            else signin_device_key(email_key, device_id)
        )
        pair = signin_pair_key(email_key, bucket)
        client = signin_ip_key(bucket)
        now = self._now_ms()
        # The client address first: when the address counter then refuses, the refund lands
        # on the client's own counter, never on one an attacker could push for someone else.
        wait = await self._admit(keys=[client], args=self._client.args(now, self._quiet_ms))
        if wait:
            raise SignInThrottledError(int(wait) / 1000)
        wait = await self._admit(keys=[counter, pair], args=self._account.args(now, self._quiet_ms))
        if wait:
            await self._refund(keys=[client])
            raise SignInThrottledError(int(wait) / 1000)
        return Admission(counter, pair, client)

    async def succeeded(self, admission: Admission) -> None:
        """Clear the counter the attempt was admitted on and forgive the client address its
        failures on this email address. Two single-slot steps; a crash between them leaves
        the client counter a little high until it goes quiet."""
        forgiven = int(await self._clear(keys=[admission.counter, admission.pair]))
        if forgiven:
            await self._forgive(keys=[admission.client], args=[forgiven])

    async def reset_email(self, email_key: str) -> None:
        """Clear the address counter: its owner has just proven they hold it (a password
        reset), so the delays an attacker built up should not stand in their way."""
        await self._clear(keys=[signin_email_key(email_key)])

    async def admit_step(self, account_id: str) -> None:
        """Count a second step or password re-entry for a signed-in or half-signed-in
        account; :class:`SignInThrottledError` when it comes too soon."""
        now = self._now_ms()
        wait = await self._admit(
            keys=[step_failures_key(account_id)], args=self._account.args(now, self._quiet_ms)
        )
        if wait:
            raise SignInThrottledError(int(wait) / 1000)

    async def step_succeeded(self, account_id: str) -> None:
        await self._clear(keys=[step_failures_key(account_id)])

    def _now_ms(self) -> int:
        return math.floor(self._clock.now().timestamp() * 1000)
