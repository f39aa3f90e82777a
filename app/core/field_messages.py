"""What a validation error says to the person who sent the value, in Spanish.

Pydantic words its errors in English ("Field required", "String should have at least 3
characters"); the web application shows a field error's `message` next to the field, so every
message of a 422 is written here from the error's type and context. A validator of ours raises
its message in Spanish (`value_error`): that message is kept as it is. The error's `code` stays
pydantic's type, for programs."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Context = Mapping[str, Any]


def _plural(n: Any, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _choices(ctx: Context) -> str:
    """pydantic's list of the accepted values ("'a', 'b' or 'c'"), joined the Spanish way."""
    expected = str(ctx.get("expected", ""))
    return re.sub(r" or (?=[^,]*$)", " o ", expected)


def _at_least_chars(ctx: Context) -> str:
    n = ctx.get("min_length", 1)
    return "No puede estar vacío" if n == 1 else f"Debe tener al menos {n} caracteres"


_NUMBER = "Debe ser un número"
_INTEGER = "Debe ser un número entero"
_TEXT = "Debe ser un texto"
_LIST = "Debe ser una lista"
_OBJECT = "Debe ser un objeto"
_UUID = "Debe ser un identificador válido (UUID)"
_DATE = "Debe ser una fecha válida (AAAA-MM-DD)"
_DATETIME = "Debe ser una fecha y hora válidas (AAAA-MM-DDTHH:MM, ISO 8601)"
_TIME = "Debe ser una hora válida (HH:MM)"
_URL = "Debe ser una dirección web válida"
_BOOL = "Debe ser verdadero o falso"

MESSAGES: dict[str, Callable[[Context], str]] = {
    "missing": lambda c: "Campo obligatorio",
    "extra_forbidden": lambda c: "Campo no admitido",
    "string_type": lambda c: _TEXT,
    "string_sub_type": lambda c: _TEXT,
    "string_unicode": lambda c: _TEXT,
    "string_too_short": _at_least_chars,
    "string_too_long": lambda c: (
        f"Debe tener como máximo {_plural(c.get('max_length'), 'carácter', 'caracteres')}"
    ),
    "string_pattern_mismatch": lambda c: "No tiene el formato esperado",
    "int_type": lambda c: _INTEGER,
    "int_parsing": lambda c: _INTEGER,
    "int_parsing_size": lambda c: "El número es demasiado grande",
    "int_from_float": lambda c: _INTEGER,
    "float_type": lambda c: _NUMBER,
    "float_parsing": lambda c: _NUMBER,
    "finite_number": lambda c: _NUMBER,
    "decimal_type": lambda c: _NUMBER,
    "decimal_parsing": lambda c: _NUMBER,
    "decimal_max_digits": lambda c: (
        f"Admite como máximo {_plural(c.get('max_digits'), 'cifra', 'cifras')}"
    ),
    "decimal_max_places": lambda c: (
        f"Admite como máximo {_plural(c.get('decimal_places'), 'decimal', 'decimales')}"
    ),
    "bool_type": lambda c: _BOOL,
    "bool_parsing": lambda c: _BOOL,
    "greater_than": lambda c: f"Debe ser mayor que {c.get('gt')}",
    "greater_than_equal": lambda c: f"Debe ser {c.get('ge')} o más",
    "less_than": lambda c: f"Debe ser menor que {c.get('lt')}",
    "less_than_equal": lambda c: f"Debe ser {c.get('le')} o menos",
    "multiple_of": lambda c: f"Debe ser múltiplo de {c.get('multiple_of')}",
    "too_short": lambda c: (
        f"Debe tener al menos {_plural(c.get('min_length'), 'elemento', 'elementos')}"
    ),
    "too_long": lambda c: (
        f"Admite como máximo {_plural(c.get('max_length'), 'elemento', 'elementos')}"
    ),
    "list_type": lambda c: _LIST,
    "tuple_type": lambda c: _LIST,
    "set_type": lambda c: _LIST,
    "frozen_set_type": lambda c: _LIST,
    "iterable_type": lambda c: _LIST,
    "dict_type": lambda c: _OBJECT,
    "model_type": lambda c: _OBJECT,
    "model_attributes_type": lambda c: _OBJECT,
    "dataclass_type": lambda c: _OBJECT,
    "uuid_type": lambda c: _UUID,
    "uuid_parsing": lambda c: _UUID,
    "uuid_version": lambda c: _UUID,
    "date_type": lambda c: _DATE,
    "date_parsing": lambda c: _DATE,
    "date_from_datetime_parsing": lambda c: _DATE,
    "date_from_datetime_inexact": lambda c: "Debe ser una fecha, sin hora",
    "date_past": lambda c: "Debe ser una fecha pasada",
    "date_future": lambda c: "Debe ser una fecha futura",
    "datetime_type": lambda c: _DATETIME,
    "datetime_parsing": lambda c: _DATETIME,
    "datetime_from_date_parsing": lambda c: _DATETIME,
    "datetime_object_invalid": lambda c: _DATETIME,
    "datetime_past": lambda c: "Debe ser una fecha y hora pasadas",
    "datetime_future": lambda c: "Debe ser una fecha y hora futuras",
    "timezone_aware": lambda c: "Indique la zona horaria (por ejemplo, +01:00)",
    "timezone_naive": lambda c: "Sin zona horaria",
    "time_type": lambda c: _TIME,
    "time_parsing": lambda c: _TIME,
    "time_delta_type": lambda c: "Debe ser una duración válida",
    "time_delta_parsing": lambda c: "Debe ser una duración válida",
    "url_type": lambda c: _URL,
    "url_parsing": lambda c: _URL,
    "url_syntax_violation": lambda c: _URL,
    "url_too_long": lambda c: _URL,
    "url_scheme": lambda c: f"La dirección debe empezar por {_choices(c)}",
    "enum": lambda c: f"Debe ser uno de estos valores: {_choices(c)}",
    "literal_error": lambda c: f"Debe ser uno de estos valores: {_choices(c)}",
    "json_invalid": lambda c: "JSON no válido",
    "json_type": lambda c: "Debe ser un texto con JSON",
    "bytes_type": lambda c: _TEXT,
    "bytes_too_short": _at_least_chars,
    "bytes_too_long": lambda c: (
        f"Debe tener como máximo {_plural(c.get('max_length'), 'byte', 'bytes')}"
    ),
    "union_tag_invalid": lambda c: f"Debe ser uno de estos valores: {_choices(c)}",
    "union_tag_not_found": lambda c: "Falta el campo que indica el tipo",
    "no_such_attribute": lambda c: "Campo no admitido",
    "frozen_field": lambda c: "Este campo no se puede cambiar",
    "frozen_instance": lambda c: "No se puede cambiar",
}

GENERIC = "Valor no válido"

# email-validator's reasons are English too; the value is what matters to the person.
_EMAIL = re.compile(r"^value is not a valid email address", re.IGNORECASE)


def field_message(error: Mapping[str, Any]) -> str:
    """The Spanish message of one of pydantic's errors (an item of `errors()`)."""
    kind = str(error.get("type", ""))
    ctx: Context = error.get("ctx") or {}
    if kind in ("value_error", "assertion_error"):
        if _EMAIL.match(str(error.get("msg", ""))):
            return "Debe ser una dirección de correo electrónico válida"
        reason = str(ctx.get("error", "")).strip()
        return reason[:1].upper() + reason[1:] if reason else GENERIC
    message = MESSAGES.get(kind)
    return message(ctx) if message is not None else GENERIC
