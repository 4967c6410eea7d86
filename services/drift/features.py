"""Which columns a report compares and as what (numeric / categorical), and the checks every profile
of a column must pass."""

from __future__ import annotations

from collections.abc import Sequence

from services.drift.profile import Profile
from services.errors import BadInput
from services.warehouse.sources import Backend

_FLOATS = ("FLOAT", "DOUBLE", "REAL", "FLOAT4", "FLOAT8")


def is_float_type(sql_type: str) -> bool:
    return sql_type.upper().split("(")[0] in _FLOATS


def plan_features(
    backend_ref: Backend,
    backend_cur: Backend,
    *,
    columns: Sequence[str] | None = None,
    numerical: Sequence[str] = (),
    categorical: Sequence[str] = (),
) -> list[tuple[str, str]]:
    """(name, kind) in report order, validated against both sides' schemas."""
    ref_cols, cur_cols = backend_ref.columns, backend_cur.columns
    both = set(numerical) & set(categorical)
    if both:
        raise BadInput(f"column {sorted(both)[0]!r} is forced both numerical and categorical")
    names = list(dict.fromkeys(columns)) if columns else [c for c in ref_cols if c in cur_cols]
    names += [x for x in dict.fromkeys([*numerical, *categorical]) if x not in names]
    out = []
    for name in names:
        for side, cols in (("reference", ref_cols), ("current", cur_cols)):
            if name not in cols:
                raise BadInput(f"column {name!r} is missing from the {side} data")
        kind = _kind(name, backend_ref, backend_cur, numerical, categorical)
        out.append((name, kind))
    if not out:
        raise BadInput("no columns to compare (the two sides share no column)")
    return out


def _kind(name: str, ref: Backend, cur: Backend, numerical: Sequence[str], categorical: Sequence[str]) -> str:
    if name in numerical:
        for side, b in (("reference", ref), ("current", cur)):
            if not b.is_numeric(name):
                raise BadInput(
                    f"column {name!r} is forced numerical but is {b.columns[name].lower()} in the {side} data"
                )
        return "numeric"
    if name in categorical:
        return "categorical"
    return "numeric" if ref.is_numeric(name) and cur.is_numeric(name) else "categorical"


def features_from_profile(
    prof: Profile,
    cur_b: Backend,
    columns: Sequence[str] | None,
    numerical: Sequence[str],
    categorical: Sequence[str],
) -> list[tuple[str, str]]:
    names = list(dict.fromkeys(list(columns or prof.features) + list(numerical) + list(categorical)))
    out = []
    for name in names:
        if name not in prof.features:
            raise BadInput(f"column {name!r} is missing from the reference profile")
        if name not in cur_b.columns:
            raise BadInput(f"column {name!r} is missing from the current data")
        kind = prof.features[name].kind
        if (name in numerical and kind != "numeric") or (name in categorical and kind != "categorical"):
            raise BadInput(f"column {name!r} was profiled as {kind}")
        if kind == "numeric" and not cur_b.is_numeric(name):
            raise BadInput(
                f"column {name!r} is numeric in the reference but {cur_b.columns[name].lower()} in the current data"
            )
        out.append((name, kind))
    return out


def check_numeric(name: str, side: str, count: int, infinite: int) -> None:
    if infinite:
        raise BadInput(f"column {name!r} has infinite values in the {side} data")
    if count == 0:
        raise BadInput(f"column {name!r} has no non-missing values in the {side} data")


def check_categorical(name: str, side: str, count: int) -> None:
    if count == 0:
        raise BadInput(f"column {name!r} has no non-missing values in the {side} data")
