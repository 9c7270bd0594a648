"""`/settings`: read and manage the `system_settings` table."""

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response, status
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue
from sqlalchemy import Row, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.auth import audit, scoped
from app.api.deps import ServicesDep
from app.api.responses import BODY_ERRORS, described
from app.api.routing import JsonBodyRoute
from app.api.validation import PostgresJson, PostgresText
from app.models import SystemSetting, upsert_setting
from app.services.identity import SETTINGS_READ, SETTINGS_WRITE, Caller

router = APIRouter(prefix="/settings", tags=["settings"], route_class=JsonBodyRoute)

# Reads are open locally (the spec's check calls) and need `settings:read` in production.
ReadAccess = scoped(SETTINGS_READ, open_locally=True)
# First in a write's parameters: the caller is checked before the key (403 for `core.*`).
Writer = Annotated[Caller, scoped(SETTINGS_WRITE)]

KEY_PATTERN = r"^[a-z0-9_]+(\.[a-z0-9_]+)*$"
SettingKey = Annotated[
    str,
    Path(
        min_length=1,
        max_length=128,
        pattern=KEY_PATTERN,
        description="Lowercase dotted name, e.g. `core.version` (at most 128 characters).",
    ),
]
# A setting is configuration, not a blob store: its value is at most this much JSON text.
MAX_VALUE_BYTES = 16 * 1024
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


class SettingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str
    value: JsonValue
    description: str | None
    updated_at: datetime
    created_at: datetime | None = Field(
        description="When the setting was first written; null for settings written before 1.1.0."
    )


class SettingsPage(BaseModel):
    items: list[SettingOut]
    next_after: str | None = Field(
        description="Pass as `after` to get the next page; null on the last page."
    )


def at_most_max_value_bytes(value: JsonValue) -> JsonValue:
    size = len(json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    if size > MAX_VALUE_BYTES:
        raise ValueError(f"value must be at most {MAX_VALUE_BYTES} bytes of JSON (got {size})")
    return value


class SettingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: Annotated[PostgresJson, AfterValidator(at_most_max_value_bytes)] = Field(
        description=f"Any JSON value, at most {MAX_VALUE_BYTES} bytes as JSON text."
    )
    description: PostgresText | None = Field(default=None, max_length=1024)


# Keys the platform owns (migrations keep `core.version` equal to the running version).
PLATFORM_PREFIX = "core."


async def writable_key(key: SettingKey) -> str:
    """Only the platform writes `core.*`: through the API they are read-only (403)."""
    if key.startswith(PLATFORM_PREFIX):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"setting '{key}' is managed by the platform ({PLATFORM_PREFIX}* keys are read-only)",
        )
    return key


WritableKey = Annotated[str, Depends(writable_key)]


def not_found(key: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"setting '{key}' not found")


@router.get("", dependencies=[ReadAccess], responses=described(401, 403, 422, 503))
async def list_settings(
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    after: Annotated[
        PostgresText | None, Query(max_length=128, description="Return the keys after this one.")
    ] = None,
) -> SettingsPage:
    """Settings ordered by key, one page at a time."""

    async def page(session: AsyncSession) -> list[SystemSetting]:
        query = select(SystemSetting).order_by(SystemSetting.key).limit(limit + 1)
        if after is not None:
            query = query.where(SystemSetting.key > after)
        return list(await session.scalars(query))

    rows = await services.database.run(page)
    items = [SettingOut.model_validate(row) for row in rows[:limit]]
    return SettingsPage(items=items, next_after=items[-1].key if len(rows) > limit else None)


@router.get("/{key}", dependencies=[ReadAccess], responses=described(401, 403, 404, 422, 503))
async def get_setting(key: SettingKey, services: ServicesDep) -> SettingOut:
    async def read(session: AsyncSession) -> SystemSetting | None:
        return await session.get(SystemSetting, key)

    row = await services.database.run(read)
    if row is None:
        raise not_found(key)
    return SettingOut.model_validate(row)


@router.put(
    "/{key}",
    responses={201: {"description": "Created."}, **described(*BODY_ERRORS, 401, 403, 503)},
)
async def put_setting(
    caller: Writer, key: WritableKey, body: SettingIn, services: ServicesDep, response: Response
) -> SettingOut:
    """Create or replace a setting; `updated_at` is set by the server."""
    upsert = upsert_setting(key, body.value, body.description)

    async def write(session: AsyncSession) -> Row[Any]:
        row = (await session.execute(upsert)).one()
        await session.commit()
        return row

    row = await services.database.run(write)
    audit("settings.put", caller, key=key)
    if row.created:
        response.status_code = status.HTTP_201_CREATED
    return SettingOut.model_validate(row)


@router.delete(
    "/{key}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=described(401, 403, 404, 422, 503),
)
async def delete_setting(caller: Writer, key: WritableKey, services: ServicesDep) -> None:
    async def remove(session: AsyncSession) -> str | None:
        result = await session.execute(
            delete(SystemSetting).where(SystemSetting.key == key).returning(SystemSetting.key)
        )
        await session.commit()
        return result.scalar_one_or_none()

    if await services.database.run(remove) is None:
        raise not_found(key)
    audit("settings.delete", caller, key=key)
