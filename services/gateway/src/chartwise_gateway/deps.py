"""Dependencies of the routes: the clients, the caller's identity, the request's correlation id."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from chartwise_gateway.clients import Clients
from chartwise_gateway.errors import Unauthenticated
from chartwise_gateway.identity.keys import key_matches, key_prefix
from chartwise_runtime.errors import Forbidden

bearer = HTTPBearer(auto_error=False, description="An API key `cw_...` as a bearer token.")
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key `cw_...`.")
admin_bearer = HTTPBearer(auto_error=False, scheme_name="AdminToken", description="The ADMIN_TOKEN.")


def get_clients(request: Request) -> Clients:
    clients: Clients = request.app.state.clients
    return clients


ClientsDep = Annotated[Clients, Depends(get_clients)]


def get_correlation_id(request: Request) -> str:
    correlation_id: str = request.state.correlation_id
    return correlation_id


CorrelationId = Annotated[str, Depends(get_correlation_id)]


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: str
    key_id: str
    correlation_id: str


async def authenticate(
    request: Request,
    response: Response,
    clients: ClientsDep,
    bearer_credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    header_key: Annotated[str | None, Depends(api_key_header)],
) -> Principal:
    """The user behind the presented API key, after counting the request against the key's rate limit."""
    presented = bearer_credentials.credentials if bearer_credentials is not None else header_key
    if not presented:
        raise Unauthenticated("an API key is required (Authorization: Bearer cw_... or X-API-Key)")
    prefix = key_prefix(presented)
    key = await clients.identity.store.key_by_prefix(prefix) if prefix else None
    if key is None or key.revoked or not key_matches(presented, key.hash, pepper=clients.identity.pepper):
        raise Unauthenticated("the API key is not valid")
    decision = await clients.rate_limiter.hit(key.id)
    response.headers["X-RateLimit-Limit"] = str(decision.limit)
    response.headers["X-RateLimit-Remaining"] = str(decision.remaining)
    response.headers["X-RateLimit-Reset"] = str(decision.reset_s)
    request.state.user_id = key.user_id
    return Principal(user_id=key.user_id, key_id=key.id, correlation_id=request.state.correlation_id)


CurrentUser = Annotated[Principal, Depends(authenticate)]


async def require_admin(
    clients: ClientsDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(admin_bearer)]
) -> None:
    if credentials is None:
        raise Unauthenticated("the admin token is required (Authorization: Bearer <ADMIN_TOKEN>)")
    expected = clients.settings.admin_token.get_secret_value().encode()
    if not hmac.compare_digest(credentials.credentials.encode(), expected):
        raise Forbidden("the admin token is not valid")


AdminOnly = Depends(require_admin)
