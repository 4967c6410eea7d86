"""Statements over a model's scoring log beside the features: per-window performance, rows per
window and score buckets (aggregates only; every value a named parameter)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlglot import exp

from services.drift.sql import Query
from services.warehouse.sql import column, date_bucket, param, render, window_condition


def performance_query(
    table: exp.Table,
    dialect: str,
    *,
    ts: str,
    label: str,
    prediction: str,
    group_by: str,
    start: datetime | None = None,
    end: datetime | None = None,
    buckets: int = 1000,
    cutoff: float = 0.5,
) -> Query:
    """Per window and score bucket: positives and negatives among labelled rows (for a binned
    ROC AUC), correct predictions at ``cutoff`` and the label mean — aggregates only."""
    params: dict[str, Any] = {"cutoff": float(cutoff), "buckets": int(buckets)}
    score = exp.cast(column(prediction), "DOUBLE")
    y = exp.cast(column(label), "DOUBLE")
    bucket = exp.Floor(this=exp.Mul(this=score.copy(), expression=param("buckets")))
    correct = exp.Case(
        ifs=[
            exp.If(
                this=exp.EQ(
                    this=exp.Paren(this=exp.GTE(this=score.copy(), expression=param("cutoff"))),
                    expression=exp.Paren(this=exp.EQ(this=y.copy(), expression=exp.Literal.number(1))),
                ),
                true=exp.Literal.number(1),
            )
        ],
        default=exp.Literal.number(0),
    )
    q = exp.select(
        exp.alias_(date_bucket(ts, group_by), "w", quoted=True),
        exp.alias_(bucket, "b", quoted=True),
        exp.alias_(exp.Sum(this=y.copy()), "pos", quoted=True),
        exp.alias_(exp.Count(this=y.copy()), "n", quoted=True),
        exp.alias_(exp.Sum(this=correct), "correct", quoted=True),
    ).from_(table.copy())
    cond: exp.Expr = exp.and_(
        exp.Not(this=exp.Is(this=column(label), expression=exp.null())),
        exp.Not(this=exp.Is(this=column(prediction), expression=exp.null())),
    )
    wc = window_condition(ts, start, end, params)
    if wc is not None:
        cond = exp.and_(cond, wc)
    q = q.where(cond).group_by(date_bucket(ts, group_by), bucket.copy())
    return render(q, dialect), params


def rows_query(
    table: exp.Table,
    dialect: str,
    *,
    ts: str,
    group_by: str,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Query:
    params: dict[str, Any] = {}
    q = exp.select(
        exp.alias_(date_bucket(ts, group_by), "w", quoted=True),
        exp.alias_(exp.Count(this=exp.Star()), "rows", quoted=True),
    ).from_(table.copy())
    wc = window_condition(ts, start, end, params)
    if wc is not None:
        q = q.where(wc)
    q = q.group_by(date_bucket(ts, group_by))
    return render(q, dialect), params


def score_buckets_query(
    table: exp.Table,
    dialect: str,
    *,
    ts: str,
    label: str,
    prediction: str,
    group_by: str | None,
    start: datetime | None = None,
    end: datetime | None = None,
    buckets: int = 1000,
) -> Query:
    """Per window (or the whole range when ``group_by`` is None) and score bucket (NULL for a
    missing prediction): every row, the labelled rows, their positives and the labels that are not
    0/1 — what confidence-based performance estimation needs, labelled or not (aggregates only)."""
    params: dict[str, Any] = {"buckets": int(buckets)}
    score = exp.cast(column(prediction), "DOUBLE")
    y = exp.TryCast(this=column(label), to=exp.DataType.build("DOUBLE"))
    bucket = exp.Floor(this=exp.Mul(this=score.copy(), expression=param("buckets")))
    not_binary = exp.Case(
        ifs=[
            exp.If(
                this=exp.and_(
                    exp.Not(this=exp.Is(this=column(label), expression=exp.null())),
                    exp.or_(
                        exp.Is(this=y.copy(), expression=exp.null()),
                        exp.Not(this=exp.In(this=y.copy(), expressions=[exp.Literal.number(0), exp.Literal.number(1)])),
                    ),
                ),
                true=exp.Literal.number(1),
            )
        ],
        default=exp.Literal.number(0),
    )
    labelled = exp.Case(
        ifs=[
            exp.If(
                this=exp.In(this=y.copy(), expressions=[exp.Literal.number(0), exp.Literal.number(1)]),
                true=exp.Literal.number(1),
            )
        ],
        default=exp.Literal.number(0),
    )
    positive = exp.Case(
        ifs=[exp.If(this=exp.EQ(this=y.copy(), expression=exp.Literal.number(1)), true=exp.Literal.number(1))],
        default=exp.Literal.number(0),
    )
    window = date_bucket(ts, group_by) if group_by else exp.Literal.number(0)
    q = exp.select(
        exp.alias_(window, "w", quoted=True),
        exp.alias_(bucket, "b", quoted=True),
        exp.alias_(exp.Count(this=exp.Star()), "n", quoted=True),
        exp.alias_(exp.Sum(this=labelled), "labelled", quoted=True),
        exp.alias_(exp.Sum(this=positive), "pos", quoted=True),
        exp.alias_(exp.Sum(this=not_binary), "bad", quoted=True),
    ).from_(table.copy())
    wc = window_condition(ts, start, end, params)
    if wc is not None:
        q = q.where(wc)
    q = q.group_by(*([window.copy()] if group_by else []), bucket.copy())
    return render(q, dialect), params
