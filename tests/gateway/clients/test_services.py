"""The client service on the real store: organisations checked, secrets shown once and kept
only as a digest, every change recorded, disabled clients refused."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from gateway.clients.errors import (
    ClientAuthenticationError,
    ClientDisabledError,
    ClientHasNoSecretError,
    ClientNotFoundError,
    ClientSecretsNotAllowedError,
    InvalidClientRegistrationError,
)
from gateway.clients.models import AuthMethod, ClientRegistration, ClientUpdate
from gateway.clients.services import ClientService
from gateway.clients.store import ClientStore, client_key
from gateway.runtime import Runtime
from tests.conftest import TEST_ACTOR
from tests.gateway.clients.support import public_jwk, registration, secret_registration
from tests.support.evidence import recorded


@pytest.fixture
async def no_secrets(runtime: Runtime) -> AsyncIterator[ClientService]:
    """The same store and organisations, as a production gateway builds the service."""
    service = ClientService(
        ClientStore(runtime.redis),
        runtime.clock,
        runtime.evidence,
        runtime.organisations,
        secrets_allowed=False,
    )
    yield service
    await service.aclose()


async def test_a_key_client_is_registered_without_a_secret(
    runtime: Runtime, organisation_id: str
) -> None:
    issued = await runtime.clients.add(
        ClientRegistration.build(registration(organisation_id)), TEST_ACTOR
    )
    assert issued.secret is None and issued.client.secret_hash is None
    assert issued.client.client_id.startswith("cli_")
    assert await runtime.clients.get(issued.client.client_id) == issued.client
    assert issued.client in await runtime.clients.list()
    assert issued.client.sector_identifier == "permits.anytown.example"


async def test_creation_is_recorded_in_the_evidence_log(
    runtime: Runtime, organisation_id: str
) -> None:
    issued = await runtime.clients.add(
        ClientRegistration.build(registration(organisation_id)), TEST_ACTOR
    )
    [entry] = await recorded(runtime.evidence, "client.created", issued.client.client_id)
    assert entry["actor"] == str(TEST_ACTOR)
    assert entry["details"]["redirect_uris"] == ["https://permits.anytown.example/callback"]
    assert entry["details"]["jwks"] == {"kids": ["key-1"]}


async def test_a_secret_is_shown_once_and_stored_only_as_its_sha256(
    runtime: Runtime, organisation_id: str
) -> None:
    issued = await runtime.clients.add(
        ClientRegistration.build(secret_registration(organisation_id)), TEST_ACTOR
    )
    assert issued.secret is not None and len(issued.secret) >= 43
    client_id = issued.client.client_id
    stored = await runtime.redis.get(client_key(client_id))
    assert issued.secret not in str(stored)
    assert hashlib.sha256(issued.secret.encode()).hexdigest() in str(stored)
    again = await runtime.clients.get(client_id)
    assert "secret_hash" not in again.to_json() and issued.secret not in str(again.to_json())
    [entry] = await recorded(runtime.evidence, "client.created", client_id)
    assert issued.secret not in str(entry) and str(again.secret_hash) not in str(entry)


async def test_the_issued_secret_authenticates_and_a_wrong_one_does_not(
    runtime: Runtime, organisation_id: str
) -> None:
    issued = await runtime.clients.add(
        ClientRegistration.build(secret_registration(organisation_id)), TEST_ACTOR
    )
    assert issued.secret is not None
    client_id = issued.client.client_id
    assert await runtime.clients.authenticate_secret(client_id, issued.secret) == issued.client
    with pytest.raises(ClientAuthenticationError):
        changed = "B" if issued.secret.endswith("A") else "A"
        await runtime.clients.authenticate_secret(client_id, issued.secret[:-1] + changed)


async def test_unknown_wrong_disabled_and_keyed_clients_fail_alike(
    runtime: Runtime, organisation_id: str
) -> None:
    """RFC 6749 §5.2: one ``invalid_client`` answer, so a caller learns nothing by probing."""
    secret_client = await runtime.clients.add(
        ClientRegistration.build(secret_registration(organisation_id)), TEST_ACTOR
    )
    keyed = await runtime.clients.add(
        ClientRegistration.build(registration(organisation_id)), TEST_ACTOR
    )
    assert secret_client.secret is not None
    attempts = [
        ("cli_" + "Z" * 22, secret_client.secret),
        ("not an id", secret_client.secret),
        (secret_client.client.client_id, "wrong"),
        (secret_client.client.client_id, "x" * 10_000),
        (keyed.client.client_id, secret_client.secret),
    ]
    messages = set()
    for client_id, secret in attempts:
        with pytest.raises(ClientAuthenticationError) as caught:
            await runtime.clients.authenticate_secret(client_id, secret)
        messages.add(caught.value.detail)
    await runtime.clients.disable(secret_client.client.client_id, TEST_ACTOR)
    with pytest.raises(ClientAuthenticationError) as caught:
        await runtime.clients.authenticate_secret(
            secret_client.client.client_id, secret_client.secret
        )
    messages.add(caught.value.detail)
    assert len(messages) == 1


async def test_secrets_are_refused_when_switched_off(
    no_secrets: ClientService, organisation_id: str
) -> None:
    service = no_secrets
    with pytest.raises(ClientSecretsNotAllowedError) as caught:
        await service.add(
            ClientRegistration.build(secret_registration(organisation_id)), TEST_ACTOR
        )
    assert "register a JWKS and use private_key_jwt" in caught.value.detail
    keyed = await service.add(ClientRegistration.build(registration(organisation_id)), TEST_ACTOR)
    with pytest.raises(ClientSecretsNotAllowedError):
        await service.update(
            keyed.client.client_id,
            ClientUpdate.build({"token_endpoint_auth_method": "client_secret_post"}),
            TEST_ACTOR,
        )


async def test_a_development_secret_client_cannot_use_its_secret_once_secrets_are_off(
    runtime: Runtime, no_secrets: ClientService, organisation_id: str
) -> None:
    issued = await runtime.clients.add(
        ClientRegistration.build(secret_registration(organisation_id)), TEST_ACTOR
    )
    assert issued.secret is not None
    service = no_secrets
    with pytest.raises(ClientAuthenticationError):
        await service.authenticate_secret(issued.client.client_id, issued.secret)
    with pytest.raises(ClientSecretsNotAllowedError):
        await service.rotate_secret(issued.client.client_id, TEST_ACTOR)


async def test_an_unknown_organisation_is_refused(runtime: Runtime) -> None:
    with pytest.raises(InvalidClientRegistrationError) as caught:
        await runtime.clients.add(
            ClientRegistration.build(registration("org_" + "Q" * 22)), TEST_ACTOR
        )
    assert "organisation_id 'org_QQQQ" in caught.value.detail
    assert "names no registered organisation" in caught.value.detail


@pytest.mark.parametrize("client_id", ["cli_" + "N" * 22, "nonsense", "cli_../../etc"])
async def test_unknown_or_malformed_ids_are_not_found(runtime: Runtime, client_id: str) -> None:
    with pytest.raises(ClientNotFoundError, match="govconnect clients list"):
        await runtime.clients.get(client_id)


async def test_a_client_credentials_client_is_its_own_sector(
    runtime: Runtime, organisation_id: str
) -> None:
    issued = await runtime.clients.add(
        ClientRegistration.build(
            registration(organisation_id, grant_types=["client_credentials"], redirect_uris=[])
        ),
        TEST_ACTOR,
    )
    assert issued.client.sector_identifier == issued.client.client_id


async def test_an_update_is_validated_as_a_whole_and_leaves_the_client_unchanged_if_refused(
    runtime: Runtime, organisation_id: str
) -> None:
    issued = await runtime.clients.add(
        ClientRegistration.build(registration(organisation_id)), TEST_ACTOR
    )
    client_id = issued.client.client_id
    with pytest.raises(InvalidClientRegistrationError, match="needs exactly one of jwks"):
        await runtime.clients.update(client_id, ClientUpdate.build({"jwks": None}), TEST_ACTOR)
    with pytest.raises(InvalidClientRegistrationError, match="must use https"):
        await runtime.clients.update(
            client_id,
            ClientUpdate.build({"redirect_uris": ["http://permits.anytown.example/cb"]}),
            TEST_ACTOR,
        )
    assert await runtime.clients.get(client_id) == issued.client


async def test_moving_redirect_uris_to_another_host_keeps_the_sector(
    runtime: Runtime, organisation_id: str
) -> None:
    """Pairwise subjects (OIDC Core §8.1) must not change under a council's feet."""
    issued = await runtime.clients.add(
        ClientRegistration.build(registration(organisation_id)), TEST_ACTOR
    )
    updated = await runtime.clients.update(
        issued.client.client_id,
        ClientUpdate.build({"redirect_uris": ["https://new.anytown.example/cb"]}),
        TEST_ACTOR,
    )
    assert updated.client.redirect_uris == ("https://new.anytown.example/cb",)
    assert updated.client.sector_identifier == "permits.anytown.example"
    [entry] = await recorded(runtime.evidence, "client.updated", issued.client.client_id)
    assert entry["details"]["changed"] == {"redirect_uris": ["https://new.anytown.example/cb"]}


async def test_switching_to_a_secret_issues_one_and_switching_back_drops_it(
    runtime: Runtime, organisation_id: str
) -> None:
    issued = await runtime.clients.add(
        ClientRegistration.build(registration(organisation_id)), TEST_ACTOR
    )
    client_id = issued.client.client_id
    to_secret = await runtime.clients.update(
        client_id,
        ClientUpdate.build({"token_endpoint_auth_method": "client_secret_basic"}),
        TEST_ACTOR,
    )
    assert to_secret.secret is not None and to_secret.client.jwks is None
    assert await runtime.clients.authenticate_secret(client_id, to_secret.secret)
    to_keys = await runtime.clients.update(
        client_id,
        ClientUpdate.build(
            {"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [public_jwk("k2")]}}
        ),
        TEST_ACTOR,
    )
    assert to_keys.secret is None and to_keys.client.secret_hash is None
    assert to_keys.client.token_endpoint_auth_method is AuthMethod.PRIVATE_KEY_JWT
    with pytest.raises(ClientAuthenticationError):
        await runtime.clients.authenticate_secret(client_id, to_secret.secret)


async def test_a_disabled_client_is_refused_until_enabled(
    runtime: Runtime, organisation_id: str
) -> None:
    issued = await runtime.clients.add(
        ClientRegistration.build(registration(organisation_id)), TEST_ACTOR
    )
    client_id = issued.client.client_id
    assert (await runtime.clients.disable(client_id, TEST_ACTOR)).disabled
    await runtime.clients.disable(client_id, TEST_ACTOR)
    with pytest.raises(ClientDisabledError, match="govconnect clients enable"):
        await runtime.clients.get_enabled(client_id)
    assert not (await runtime.clients.enable(client_id, TEST_ACTOR)).disabled
    assert (await runtime.clients.get_enabled(client_id)).client_id == client_id
    assert len(await recorded(runtime.evidence, "client.disabled", client_id)) == 1
    assert len(await recorded(runtime.evidence, "client.enabled", client_id)) == 1


async def test_rotating_a_secret_retires_the_old_one_at_once(
    runtime: Runtime, organisation_id: str
) -> None:
    issued = await runtime.clients.add(
        ClientRegistration.build(secret_registration(organisation_id)), TEST_ACTOR
    )
    assert issued.secret is not None
    client_id = issued.client.client_id
    new_secret = await runtime.clients.rotate_secret(client_id, TEST_ACTOR)
    assert new_secret != issued.secret
    assert await runtime.clients.authenticate_secret(client_id, new_secret)
    with pytest.raises(ClientAuthenticationError):
        await runtime.clients.authenticate_secret(client_id, issued.secret)
    [entry] = await recorded(runtime.evidence, "client.secret-rotated", client_id)
    assert new_secret not in str(entry)


async def test_a_key_client_has_no_secret_to_rotate(runtime: Runtime, organisation_id: str) -> None:
    issued = await runtime.clients.add(
        ClientRegistration.build(registration(organisation_id)), TEST_ACTOR
    )
    with pytest.raises(ClientHasNoSecretError, match="update its jwks or jwks_uri"):
        await runtime.clients.rotate_secret(issued.client.client_id, TEST_ACTOR)


async def test_a_concurrent_rename_and_disable_both_take_effect(
    runtime: Runtime, organisation_id: str
) -> None:
    """Neither change undoes the other, whichever order they reach the store in."""
    issued = await runtime.clients.add(
        ClientRegistration.build(registration(organisation_id)), TEST_ACTOR
    )
    client_id = issued.client.client_id
    rename = ClientUpdate.build({"client_name": "Renamed"})
    await asyncio.gather(
        runtime.clients.update(client_id, rename, TEST_ACTOR),
        runtime.clients.disable(client_id, TEST_ACTOR),
    )
    final = await runtime.clients.get(client_id)
    assert final.client_name == "Renamed" and final.disabled


async def test_the_store_refuses_a_write_based_on_a_stale_read(
    runtime: Runtime, organisation_id: str
) -> None:
    """The compare-and-set under every change: a writer that read before another writer's
    change cannot overwrite it, so the service re-reads and re-applies."""
    issued = await runtime.clients.add(
        ClientRegistration.build(registration(organisation_id)), TEST_ACTOR
    )
    store = ClientStore(runtime.redis)
    stale = await store.versioned(issued.client.client_id)
    assert stale is not None
    await runtime.clients.disable(issued.client.client_id, TEST_ACTOR)
    assert not await store.replace(stale, replace(stale.client, client_name="Stale rename"))
    assert (await runtime.clients.get(issued.client.client_id)).disabled
