"""Between the API's floats and the database's NUMERIC."""

from decimal import Decimal


def to_float(value: Decimal | float | None) -> float | None:
    return None if value is None else float(value)


def to_decimal(value: float | None) -> Decimal | None:
    # Through str: the decimal the client typed, not the binary float's expansion.
    return None if value is None else Decimal(str(value))
