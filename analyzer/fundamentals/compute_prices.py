"""GPU rental prices and compute indices as fundamentals: the CSV schema and its checks.

The physical cost of AI is also the price of an hour on an accelerator. These series come from
price trackers, cloud price lists or your own quotes, and are imported with
``analyzer fundamentals import FILE.csv`` in the usual columns
(``entity,metric,date,value,unit,source,filed_at``, see ``docs/COMPUTE_PRICES.md``):

- ``gpu_rental_price_<model>`` (e.g. ``gpu_rental_price_h100``): the price of one GPU for one
  hour, unit ``USD/GPU-hour`` (or another ISO currency: ``EUR/GPU-hour``); on-demand unless the
  metric says ``_reserved`` or ``_spot`` at the end;
- ``compute_index_<name>``: an index of compute prices or availability, unit ``index`` (with its
  base period in ``source``, e.g. ``tracker:2024-01=100``).

Rows of these metrics with another unit, or a negative or zero price, are rejected with their
line number like any bad row; other metrics are not touched.
"""

from __future__ import annotations

import re
from typing import Any

GPU_PRICE_PREFIX = "gpu_rental_price_"
COMPUTE_INDEX_PREFIX = "compute_index_"
_GPU_METRIC = re.compile(r"^gpu_rental_price_[a-z0-9]+(?:_[a-z0-9]+)*$")
_INDEX_METRIC = re.compile(r"^compute_index_[a-z0-9]+(?:_[a-z0-9]+)*$")
_PRICE_UNIT = re.compile(r"^[A-Z]{3}/GPU-hour$")


def check_compute_row(row: dict[str, Any]) -> None:
    """Raise ValueError when a GPU-price or compute-index row breaks the schema."""
    metric = str(row.get("metric") or "")
    unit = row.get("unit")
    value = row.get("value")
    if metric.startswith(GPU_PRICE_PREFIX):
        if not _GPU_METRIC.match(metric):
            raise ValueError(
                f"metric {metric!r}: write gpu_rental_price_<model>, lowercase (e.g. gpu_rental_price_h100)"
            )
        if not unit or not _PRICE_UNIT.match(str(unit)):
            raise ValueError(
                f"metric {metric}: unit must be a currency per GPU-hour such as USD/GPU-hour, got {unit!r}"
            )
        if value is not None and value <= 0:
            raise ValueError(f"metric {metric}: a rental price must be positive, got {value}")
    elif metric.startswith(COMPUTE_INDEX_PREFIX):
        if not _INDEX_METRIC.match(metric):
            raise ValueError(f"metric {metric!r}: write compute_index_<name>, lowercase")
        if unit != "index":
            raise ValueError(f"metric {metric}: unit must be 'index', got {unit!r}")
