"""`.env.example` lists every variable the application reads, with the application's default."""

from pathlib import Path

from pydantic import TypeAdapter

from app.config import Settings

ENV_EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"


def documented_variables() -> dict[str, str]:
    variables: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        text = line.removeprefix("# ").strip()
        if "=" in text and text.split("=", 1)[0].isupper() and " " not in text.split("=", 1)[0]:
            name, value = text.split("=", 1)
            variables.setdefault(name, value)
    return variables


def test_every_setting_is_documented_with_its_default() -> None:
    documented = documented_variables()
    for name, field in Settings.model_fields.items():
        variable = field.alias or name.upper()
        assert variable in documented, f"{variable} missing from .env.example"
        if variable == "DATABASE_URL":
            assert documented[variable] == Settings().database_url
            continue
        default = field.default
        parsed = (
            TypeAdapter(type(default)).validate_strings(documented[variable])
            if default is not None
            else None
        )
        assert parsed == default, f"{variable}: {documented[variable]!r} != {default!r}"
