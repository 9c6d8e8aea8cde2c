"""Redis keys and operations of the organisations registry (slot ``gc:orgs``).

Every key carries the ``{gc:orgs}`` hash tag, so the whole registry sits in one cluster slot
and each multi-key write below is one atomic script. The hashes are their own indexes: nothing
here walks the keyspace.
"""

from __future__ import annotations

import json

from gateway.core.keyspace import tagged
from gateway.core.redis import RedisClient
from gateway.organisations.models import CertificateRecord, Organisation, Revocation

RECORDS = tagged("orgs", "records")  # hash: org id -> organisation JSON
CODES = tagged("orgs", "codes")  # hash: code -> org id (the uniqueness index)
REVOKED = tagged("orgs", "revoked")  # hash: serial hex -> revocation JSON (the CRL's content)


def _certificates(org_id: str) -> str:
    return tagged("orgs", "certs", org_id)  # hash: serial hex -> certificate JSON


# KEYS[1] records, KEYS[2] codes; ARGV: org id, code ('' for none), organisation JSON.
# Claiming the code and writing the record happen together, so of two concurrent adds with
# one code exactly one succeeds.
_ADD = """
if ARGV[2] ~= '' and redis.call('HSETNX', KEYS[2], ARGV[2], ARGV[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
"""

# KEYS[1] the organisation's certificates, KEYS[2] revoked; ARGV: serial, certificate JSON,
# revocation JSON. The CRL entry is the gate: a second revocation of a serial changes nothing.
_REVOKE = """
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[3]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""


class OrganisationStore:
    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis
        self._add = redis.register_script(_ADD)
        self._revoke = redis.register_script(_REVOKE)

    async def add(self, organisation: Organisation) -> bool:
        """Store a new organisation; False (and nothing stored) when its code is taken."""
        result = await self._add(
            keys=[RECORDS, CODES],
            args=[organisation.id, organisation.code or "", json.dumps(organisation.to_json())],
        )
        return bool(result)

    async def id_for_code(self, code: str) -> str | None:
        value = await self._redis.hget(CODES, code)
        return str(value) if value is not None else None

    async def get(self, org_id: str) -> Organisation | None:
        raw = await self._redis.hget(RECORDS, org_id)
        return Organisation.from_json(json.loads(raw)) if raw else None

    async def all(self) -> list[Organisation]:
        rows = await self._redis.hvals(RECORDS)
        organisations = (Organisation.from_json(json.loads(row)) for row in rows)
        return sorted(organisations, key=lambda o: (o.created_at, o.id))

    async def add_certificate(self, record: CertificateRecord) -> None:
        await self._redis.hset(
            _certificates(record.org_id), record.serial, json.dumps(record.to_json())
        )

    async def certificate(self, org_id: str, serial: str) -> CertificateRecord | None:
        raw = await self._redis.hget(_certificates(org_id), serial)
        return CertificateRecord.from_json(json.loads(raw)) if raw else None

    async def certificates(self, org_id: str) -> list[CertificateRecord]:
        rows = await self._redis.hvals(_certificates(org_id))
        records = (CertificateRecord.from_json(json.loads(row)) for row in rows)
        return sorted(records, key=lambda r: (r.not_before, r.serial))

    async def revoke(self, record: CertificateRecord, revocation: Revocation) -> bool:
        """Store the revoked record and its CRL entry; False if the serial was revoked already."""
        result = await self._revoke(
            keys=[_certificates(record.org_id), REVOKED],
            args=[
                record.serial,
                json.dumps(record.to_json()),
                json.dumps(revocation.to_json()),
            ],
        )
        return bool(result)

    async def revocations(self) -> list[Revocation]:
        rows = await self._redis.hvals(REVOKED)
        return [Revocation.from_json(json.loads(row)) for row in rows]
