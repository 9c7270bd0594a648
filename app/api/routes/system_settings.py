"""`/settings`: read and manage the `system_settings` table."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field, JsonValue
from sqlalchemy import delete, literal_column, select
from sqlalchemy.dialects.postgresql import insert

from app.api.deps import SessionDep, WriteAccess
from app.api.routing import LenientJsonRoute
from app.api.validation import PostgresJson, PostgresText
from app.models import SystemSetting

router = APIRouter(prefix="/settings", tags=["settings"], route_class=LenientJsonRoute)

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


class SettingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str
    value: JsonValue
    description: str | None
    updated_at: datetime


class SettingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: PostgresJson = Field(description="Any JSON value.")
    description: PostgresText | None = Field(default=None, max_length=1024)


def not_found(key: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"setting '{key}' not found")


@router.get("")
async def list_settings(session: SessionDep) -> list[SettingOut]:
    rows = await session.scalars(select(SystemSetting).order_by(SystemSetting.key))
    return [SettingOut.model_validate(row) for row in rows]


@router.get("/{key}", responses={404: {"description": "No setting with this key."}})
async def get_setting(key: SettingKey, session: SessionDep) -> SettingOut:
    row = await session.get(SystemSetting, key)
    if row is None:
        raise not_found(key)
    return SettingOut.model_validate(row)


@router.put(
    "/{key}",
    dependencies=[WriteAccess],
    responses={201: {"description": "Created."}, 401: {}, 403: {}},
)
async def put_setting(
    key: SettingKey, body: SettingIn, session: SessionDep, response: Response
) -> SettingOut:
    """Create or replace a setting; `updated_at` is set by the server."""
    values = insert(SystemSetting).values(key=key, value=body.value, description=body.description)
    upsert: Any = values.on_conflict_do_update(
        index_elements=[SystemSetting.key],
        set_={
            "value": values.excluded.value,
            "description": values.excluded.description,
            "updated_at": literal_column("now()"),
        },
    ).returning(SystemSetting, literal_column("xmax = 0").label("created"))
    result = (await session.execute(upsert)).one()
    await session.commit()
    if result.created:
        response.status_code = status.HTTP_201_CREATED
    return SettingOut.model_validate(result[0])


@router.delete(
    "/{key}",
    dependencies=[WriteAccess],
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"description": "No setting with this key."}, 401: {}, 403: {}},
)
async def delete_setting(key: SettingKey, session: SessionDep) -> None:
    result = await session.execute(
        delete(SystemSetting).where(SystemSetting.key == key).returning(SystemSetting.key)
    )
    deleted = result.scalar_one_or_none()
    await session.commit()
    if deleted is None:
        raise not_found(key)
