"""One pagination for every list: keyset cursors in an opaque `next_token`, never OFFSET.

A list is a `KeysetQuery` on the list read path (docs/adr/0007-list-read-path.md): the statement
and its page conditions are built once, with named parameters, and each request only binds values,
so a page neither builds nor hashes SQL. Its answer is a `KeysetPage`, which `page_response()`
renders as the list's response model (`api/schemas.Page[...]` or the list's own model).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations
from typing import Any, Generic, TypeAlias, TypeVar

import orjson
from sqlalchemy import ColumnElement, Connection, Integer, Row, Select, and_, bindparam, or_
from sqlalchemy.orm import InstrumentedAttribute

from dagy.server.errors import InvalidInput

T = TypeVar("T")

# A list's statement and its rows, whatever their columns (SQLAlchemy types both by their columns).
ListSelect: TypeAlias = Select[*tuple[Any, ...]]
ListRow: TypeAlias = Row[*tuple[Any, ...]]


@dataclass(frozen=True)
class PageRequest:
    limit: int
    next_token: str | None = None


@dataclass(frozen=True)
class KeysetPage(Generic[T]):
    """One page of a list: its items and the token of the next page (None on the last)."""

    items: list[T]
    next_token: str | None


def _encode(values: Sequence[Any]) -> str:
    raw = orjson.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(token: str, columns: Sequence[InstrumentedAttribute[Any]]) -> list[Any]:
    values = token_values(token, len(columns))
    try:
        return [
            datetime.fromisoformat(v) if _is_datetime(col) else v
            for v, col in zip(values, columns, strict=True)
        ]
    except (ValueError, TypeError) as exc:
        raise InvalidInput("Invalid pagination token.", details={"next_token": "malformed token"}) from exc


def keyset_token(values: Sequence[Any]) -> str:
    """The `next_token` after an item with these key values, for a list not read from SQL (object
    keys): the same opaque form as a `KeysetQuery`'s."""
    return _encode(values)


def token_values(token: str, count: int) -> list[Any]:
    """The `count` key values a `next_token` holds; 400 naming `next_token` when it holds none."""
    try:
        padded = token + "=" * (-len(token) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != count:
            raise ValueError("wrong shape")
        return values
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError) as exc:
        raise InvalidInput("Invalid pagination token.", details={"next_token": "malformed token"}) from exc


def _is_datetime(column: InstrumentedAttribute[Any]) -> bool:
    try:
        return column.type.python_type is datetime
    except NotImplementedError:
        return False


class KeysetQuery:
    """A list's statement in keyset order, built once: the first page and the pages after a token.

    `stmt` selects the page's columns (those of `order_by` among them, under their own names) and
    filters with named `bindparam`s, such as `org_id`, rather than literal values, so one
    statement object serves every request and SQLAlchemy's compiled cache answers it.
    """

    _LIMIT = "page_limit"

    def __init__(
        self,
        stmt: ListSelect,
        *,
        order_by: Sequence[InstrumentedAttribute[Any]],
        descending: bool = True,
    ) -> None:
        self.order_by = tuple(order_by)
        ordering = [c.desc() if descending else c.asc() for c in order_by]
        limit = bindparam(self._LIMIT, type_=Integer)
        after = [bindparam(f"after_{i}", type_=c.type) for i, c in enumerate(order_by)]
        self._first = stmt.order_by(*ordering).limit(limit)
        self._next = stmt.where(_after(order_by, after, descending)).order_by(*ordering).limit(limit)

    def page(
        self,
        connection: Connection,
        page: PageRequest,
        *,
        params: Mapping[str, Any],
        to_item: Callable[[ListRow], T],
    ) -> KeysetPage[T]:
        """One page: `params` binds the statement's own parameters; `to_item` maps each row."""
        values = {**params, self._LIMIT: page.limit + 1}
        stmt = self._first
        if page.next_token:
            after = _decode(page.next_token, self.order_by)
            values |= {f"after_{i}": v for i, v in enumerate(after)}
            stmt = self._next
        rows = connection.execute(stmt, values).all()
        token = None
        if len(rows) > page.limit:
            rows = rows[: page.limit]
            token = _encode([getattr(rows[-1], c.key) for c in self.order_by])
        return KeysetPage(items=[to_item(r) for r in rows], next_token=token)


class FilteredKeysetQuery:
    """A list with optional filters: one `KeysetQuery` per combination of them, all built once.

    `filters` maps each filter's name to its condition, which binds a parameter of that name
    (`"enabled": Sensor.enabled == bindparam("enabled")`). A request's filters whose value is None
    are left out: the statement it runs has the conditions of the others only, as a statement
    built for that request would (2^n statements for n filters; the lists have at most five).
    """

    def __init__(
        self,
        stmt: ListSelect,
        *,
        filters: Mapping[str, ColumnElement[bool]],
        order_by: Sequence[InstrumentedAttribute[Any]],
        descending: bool = True,
    ) -> None:
        names = tuple(filters)
        self._queries = {
            frozenset(given): KeysetQuery(
                stmt.where(*(filters[name] for name in given)), order_by=order_by, descending=descending
            )
            for size in range(len(names) + 1)
            for given in combinations(names, size)
        }

    def page(
        self,
        connection: Connection,
        page: PageRequest,
        *,
        params: Mapping[str, Any],
        filters: Mapping[str, Any],
        to_item: Callable[[ListRow], T],
    ) -> KeysetPage[T]:
        """One page: `params` binds the statement's own parameters, `filters` the values of the
        filters (None: not filtered on); `to_item` maps each row."""
        given = {name: value for name, value in filters.items() if value is not None}
        query = self._queries[frozenset(given)]
        return query.page(connection, page, params={**params, **given}, to_item=to_item)


def _after(columns: Sequence[InstrumentedAttribute[Any]], values: Sequence[Any], descending: bool) -> Any:
    """(a, b, c) > (x, y, z) spelled out, so it works on SQLite and PostgreSQL alike."""
    clauses = []
    for i, column in enumerate(columns):
        equal = [columns[j] == values[j] for j in range(i)]
        beyond = column < values[i] if descending else column > values[i]
        clauses.append(and_(*equal, beyond))
    return or_(*clauses)
