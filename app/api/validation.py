"""Input types that reject values PostgreSQL cannot store, as a 422 naming the field.

PostgreSQL refuses the NUL character in `text` and `jsonb`, and a JSON value may carry lone
UTF-16 surrogates (`"\\udafb"`) that no UTF-8 store accepts: pydantic rejects those in `str`
fields, not inside a free-form JSON value. Caught here, they are a client error instead of
a failure deep in the driver.
"""

import math
from typing import Annotated

from pydantic import AfterValidator, JsonValue


def postgres_text(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (it contains a lone surrogate)") from None
    if "\x00" in text:
        raise ValueError("text must not contain the NUL character (\\u0000)")
    return text


def postgres_json(value: JsonValue) -> JsonValue:
    """Check every string of a JSON document, object keys included, and every number."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            postgres_text(item)
        elif isinstance(item, float) and not math.isfinite(item):
            raise ValueError("numbers must be finite: JSON has no NaN or Infinity")
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
    return value


PostgresText = Annotated[str, AfterValidator(postgres_text)]
PostgresJson = Annotated[JsonValue, AfterValidator(postgres_json)]
