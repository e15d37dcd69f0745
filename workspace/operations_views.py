"""The operations dashboard (GET /operations/) and its CSV (GET /operations/export.csv):
for clinic administrators and managers, per clinic they may see; 404 to everyone else.
Thin: the figures are routing.operations'; aggregates only, so nothing is written to the
access log (no patient is shown)."""

import csv
from collections.abc import Iterator

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.selectors import CURRENT_CLINIC_SESSION_KEY
from routing import operations, operations_rollup

MEASURE_LABELS = {
    "first_read": "First read",
    "first_response": "First response",
    "close": "Close",
}
DIMENSION_LABELS = {
    "acuity": "Per acuity",
    "week": "Per week of receipt",
    "queue": "Per queue",
    "role": "Per role (of the queue)",
}


def _figures(request: HttpRequest):
    clinic, clinics = operations.access_dashboard(
        user=request.user,
        slug=request.GET.get("clinic"),
        current_clinic_id=request.session.get(CURRENT_CLINIC_SESSION_KEY),
    )
    period = operations.Period.last_weeks(clinics=[clinic], now=timezone.now())
    # Stored figures for a large clinic (live ones take seconds), live for a small one.
    figures = operations_rollup.dashboard_for(clinic=clinic, now=period.end)
    return clinic, clinics, period, figures


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    clinic, clinics, period, figures = _figures(request)
    timezone.activate(period.tz)
    overall = {"group": "All patients", **figures["fairness"]["overall"]}
    context = {
        "clinic": clinic,
        "clinics": clinics,
        "period": period,
        "figures": figures,
        "times": [
            (by, DIMENSION_LABELS[by], [_cells(r) for r in figures["response_times"][by]])
            for by in operations.DIMENSIONS
        ],
        "measures": list(MEASURE_LABELS.values()),
        "acuities": operations.ACUITIES,
        "breach_rows": _by_week(figures["breaches_per_week"]),
        "chart": figures["acuity_weekly_series"],
        "fairness": [
            (label, [_cells(r) for r in (overall, *figures["fairness"][dimension])])
            for dimension, label in (("language", "Preferred language"), ("age_band", "Age band"))
        ],
        "gap_percent": round(operations.FAIRNESS_GAP * 100),
        "min_items": operations.FAIRNESS_MIN_ITEMS,
    }
    return render(request, "workspace/operations.html", context)


def _cells(row: dict) -> dict:
    """A row with its measures in column order (templates do not index by a variable)."""
    return {**row, "cells": [row[m] for m in MEASURE_LABELS]}


def _by_week(series: dict) -> list[dict]:
    """Weeks down, acuities across (the chart's data turned for a table)."""
    return [
        {"week": week, "counts": [series["series"][a][n] for a in operations.ACUITIES]}
        for n, week in enumerate(series["weeks"])
    ]


@login_required
@require_GET
def export_csv(request: HttpRequest) -> HttpResponse:
    clinic, _clinics, _period, figures = _figures(request)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    today = timezone.localdate()
    response["Content-Disposition"] = f'attachment; filename="operations-{clinic.slug}-{today}.csv"'
    csv.writer(response).writerows(csv_rows(clinic_name=clinic.name, figures=figures))
    return response


def _hours(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _share(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def csv_rows(*, clinic_name: str, figures: dict) -> Iterator[list]:
    """One section per figure, each led by a row naming it and a header row; a blank row
    between sections. Hours to two decimals, shares as fractions."""
    period = figures["period"]
    yield ["operations", clinic_name, period["start"], period["end"], period["time_zone"]]
    for by in operations.DIMENSIONS:
        yield []
        yield [f"response_times_by_{by}"]
        yield [
            by,
            "items",
            *(f"{m}_{stat}" for m in MEASURE_LABELS for stat in ("n", "median_h", "p90_h")),
            "sla_within",
            "sla_decided",
            "sla_share",
        ]
        for row in figures["response_times"][by]:
            yield [
                row["group"],
                row["items"],
                *(
                    v
                    for m in MEASURE_LABELS
                    for v in (
                        row[m]["n"],
                        _hours(row[m]["median_hours"]),
                        _hours(row[m]["p90_hours"]),
                    )
                ),
                row["sla"]["within"],
                row["sla"]["decided"],
                _share(row["sla"]["share"]),
            ]
    chart = figures["acuity_weekly_series"]
    yield []
    yield ["median_first_response_h_by_week_and_acuity"]
    yield ["week", *operations.ACUITIES]
    for n, week in enumerate(chart["weeks"]):
        yield [week, *(_hours(chart["series"][a][n]) for a in operations.ACUITIES)]
    backlog = figures["backlog"]
    yield []
    yield ["backlog_now"]
    yield ["queue", "role", "acuity", "open", "overdue", "oldest_h"]
    for row in backlog["rows"]:
        yield [
            row["queue"],
            row["role"],
            row["acuity"],
            row["open"],
            row["overdue"],
            _hours(row["oldest_hours"]),
        ]
    yield ["all", "", "", backlog["open"], backlog["overdue"], _hours(backlog["oldest_hours"])]
    answered = figures["who_answered"]
    yield []
    yield ["who_answered"]
    yield ["role", "count", "share"]
    for row in answered["by_role"]:
        yield [row["role"], row["count"], _share(row["share"])]
    yield ["physician", "", _share(answered["physician_share"])]
    yield ["everyone_else", "", _share(answered["others_share"])]
    moves = figures["moves_between_roles"]
    yield []
    yield ["moves_between_roles"]
    yield ["from", "to", "moves"]
    for row in moves["by_pair"]:
        yield [row["from"], row["to"], row["moves"]]
    yield ["items_moved", moves["items_moved"], f"of {moves['items']}"]
    breaches = figures["breaches_per_week"]
    yield []
    yield ["sla_breaches_by_week_and_acuity"]
    yield ["week", *operations.ACUITIES]
    for n, week in enumerate(breaches["weeks"]):
        yield [week, *(breaches["series"][a][n] for a in operations.ACUITIES)]
    fairness = figures["fairness"]
    for dimension in ("language", "age_band"):
        yield []
        yield [f"fairness_by_{dimension}"]
        yield [
            dimension,
            "items",
            *(f"{m}_{stat}" for m in MEASURE_LABELS for stat in ("n", "median_h", "p90_h", "gap")),
            "classified",
            "corrected",
            "correction_rate",
            "correction_gap",
        ]
        for row in [{"group": "all", **fairness["overall"]}, *fairness[dimension]]:
            corrections = row["corrections"]
            yield [
                row["group"],
                row["items"],
                *(
                    v
                    for m in MEASURE_LABELS
                    for v in (
                        row[m]["n"],
                        _hours(row[m]["median_hours"]),
                        _hours(row[m]["p90_hours"]),
                        "yes" if row[m].get("gap") else "",
                    )
                ),
                corrections["classified"],
                corrections["corrected"],
                _share(corrections["rate"]),
                "yes" if corrections.get("gap") else "",
            ]
