"""The analyzer database: one class, one file, every table's reads and writes.

>>> store = Store("data/analyzer.db")   # creates and migrates the file when needed

Each mixin owns a group of tables; :class:`Store` puts them together so callers hold one
object, as with a ``sqlite_utils.Database``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from analyzer.storage.analysis import AnalysisTables
from analyzer.storage.claims import ClaimsTables
from analyzer.storage.documents import DocumentTables
from analyzer.storage.fundamentals import FundamentalTables
from analyzer.storage.labels import LabelsMixin
from analyzer.storage.runs import RunTables
from analyzer.storage.scores import ScoreTables
from analyzer.storage.search import SearchQueries
from analyzer.storage.versions import VersionsMixin
from analyzer.storage.watches import WatchesMixin


class Store(
    DocumentTables,
    ScoreTables,
    FundamentalTables,
    AnalysisTables,
    SearchQueries,
    RunTables,
    LabelsMixin,
    VersionsMixin,
    WatchesMixin,
    ClaimsTables,
):
    """The analyzer database (see :class:`analyzer.storage.base.StoreBase` for opening it)."""


def timed() -> Callable[[], int]:
    """A stopwatch: call the returned function for elapsed milliseconds."""
    start = time.perf_counter()
    return lambda: int((time.perf_counter() - start) * 1000)
