"""Queries built once and run again with new values: the ORM on a hot path.

Turning a queryset into SQL (resolving lookups, joins and the select list) costs more than
running it: the conversation lock of every chat message, with its three joins, took 0.58 ms
to build and 0.06 ms to run. A :class:`PreparedQuery` builds its queryset once per database,
keeps the SQL and Django's own plan for turning rows into instances (select list, field
converters, ``select_related`` populators), and afterwards only executes. On PostgreSQL the
identical SQL text also lets psycopg reuse a server-side prepared statement.

What it runs is exactly what the queryset would run; only the parameters change, and they
must be the ids the builder was called with, in order (checked when the plan is made).

:func:`insert` and :func:`update` do the same for ``Model.save``: the statement for a model
and its columns is built once; each call only converts the values. They send no
``pre_save``/``post_save`` signals, so a model with receivers for those is refused.
"""
from collections.abc import Callable

from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections, router
from django.db.models import Model, QuerySet, signals
from django.db.models.query import get_related_populators
from django.db.transaction import TransactionManagementError

# Stand-ins for the ids while the plan is made: ints no real id takes, told apart by value.
_SENTINEL = -7_310_000_000


class _Plan:
    def __init__(self, queryset: QuerySet, sentinels: list[int]):
        self.alias = queryset.db
        compiler = queryset.query.get_compiler(using=self.alias)
        self.sql, params = compiler.as_sql()
        if list(params) != sentinels:
            raise ImproperlyConfigured(
                f"A prepared query's parameters must be its arguments in order; got {params!r} for {sentinels!r}."
            )
        self.locks = bool(queryset.query.select_for_update)
        klass_info = compiler.klass_info
        select = compiler.select
        self.model = klass_info["model"]
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        self.own = slice(start, end)
        self.init_list = [column[0].target.attname for column in select[start:end]]
        self.related = get_related_populators(klass_info, select, self.alias)
        self.annotations = list(compiler.annotation_col_map.items())
        self.converters = list(compiler.get_converters([column[0] for column in select[: compiler.col_count]]).items())


class PreparedQuery:
    """``build(*ids)`` returns the queryset; calling the prepared query returns its instances."""

    def __init__(self, build: Callable[..., QuerySet]):
        self.build = build
        self.plans: dict[tuple[str | None, int], _Plan] = {}

    def _plan(self, using: str | None, arity: int) -> _Plan:
        key = (using, arity)
        plan = self.plans.get(key)
        if plan is None:
            sentinels = [_SENTINEL - n for n in range(arity)]
            queryset = self.build(*sentinels)
            if using is not None:
                queryset = queryset.using(using)
            plan = self.plans[key] = _Plan(queryset, sentinels)
        return plan

    def __call__(self, *ids: int, using: str | None = None) -> list[Model]:
        plan = self._plan(using, len(ids))
        connection = connections[plan.alias]
        if plan.locks and connection.features.has_select_for_update and connection.get_autocommit():
            raise TransactionManagementError("select_for_update cannot be used outside of a transaction.")
        for value in ids:
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"A prepared query takes integer ids, not {value!r}.")
        with connection.cursor() as cursor:
            cursor.execute(plan.sql, ids)
            rows = cursor.fetchall()
        return [self._instance(plan, connection, row) for row in rows]

    def first(self, *ids: int, using: str | None = None) -> Model | None:
        found = self(*ids, using=using)
        return found[0] if found else None

    @staticmethod
    def _instance(plan: _Plan, connection, row: tuple) -> Model:
        row = list(row)
        for position, (converters, expression) in plan.converters:
            value = row[position]
            for converter in converters:
                value = converter(value, expression, connection)
            row[position] = value
        instance = plan.model.from_db(plan.alias, plan.init_list, row[plan.own])
        for populator in plan.related:
            populator.populate(row, instance)
        for name, position in plan.annotations:
            setattr(instance, name, row[position])
        return instance


# --- Writes ------------------------------------------------------------------------------

# (model, alias, ...) -> the statement and the fields whose values it takes, in order.
_statements: dict[tuple, tuple[str, list]] = {}


def _writable(model: type[Model]) -> None:
    if signals.pre_save.has_listeners(model) or signals.post_save.has_listeners(model):
        raise ImproperlyConfigured(f"{model.__name__} has save signal receivers; save it with Model.save().")
    if model._meta.parents:
        raise ImproperlyConfigured(f"{model.__name__} inherits from a concrete model; save it with Model.save().")


def _values(instance: Model, fields: list, connection, *, add: bool) -> list:
    values = []
    for field in fields:
        value = field.pre_save(instance, add)
        if hasattr(value, "resolve_expression"):
            raise TypeError(f"{field.name}: expressions need Model.save().")
        values.append(field.get_db_prep_save(value, connection=connection))
    return values


def insert(instance: Model, *, skip_conflict: bool = False) -> bool:
    """``INSERT`` a new instance (its pk unset) and set its pk; True if a row was written.

    With ``skip_conflict`` a unique violation writes nothing and returns False instead of
    raising, without the savepoint a failed insert inside a transaction would need.
    """
    model = type(instance)
    meta = model._meta
    _writable(model)
    if instance.pk is not None or meta.pk is not meta.auto_field:
        raise ImproperlyConfigured("insert() is for models with an auto pk, on instances without one.")
    alias = router.db_for_write(model, instance=instance)
    connection = connections[alias]
    if not connection.features.can_return_columns_from_insert:
        raise ImproperlyConfigured(f"{connection.vendor} cannot return the new pk from an insert.")
    key = ("insert", model, alias, skip_conflict)
    statement = _statements.get(key)
    if statement is None:
        fields = [
            field
            for field in meta.local_concrete_fields
            if field is not meta.auto_field and not getattr(field, "generated", False)
        ]
        quote = connection.ops.quote_name
        sql = "INSERT INTO {} ({}) VALUES ({}){} RETURNING {}".format(
            quote(meta.db_table),
            ", ".join(quote(field.column) for field in fields),
            ", ".join(["%s"] * len(fields)),
            " ON CONFLICT DO NOTHING" if skip_conflict else "",
            quote(meta.pk.column),
        )
        statement = _statements[key] = (sql, fields)
    sql, fields = statement
    with connection.cursor() as cursor:
        cursor.execute(sql, _values(instance, fields, connection, add=True))
        row = cursor.fetchone()
    if row is None:
        return False
    instance.pk = row[0]
    instance._state.adding = False
    instance._state.db = alias
    return True


def update(instance: Model, fields: list[str]) -> None:
    """``UPDATE`` the named columns of a saved instance, as ``save(update_fields=fields)``."""
    model = type(instance)
    meta = model._meta
    _writable(model)
    alias = instance._state.db or router.db_for_write(model, instance=instance)
    connection = connections[alias]
    key = ("update", model, alias, tuple(fields))
    statement = _statements.get(key)
    if statement is None:
        concrete = [meta.get_field(name) for name in fields]
        quote = connection.ops.quote_name
        sql = "UPDATE {} SET {} WHERE {} = %s".format(
            quote(meta.db_table),
            ", ".join(f"{quote(field.column)} = %s" for field in concrete),
            quote(meta.pk.column),
        )
        statement = _statements[key] = (sql, concrete)
    sql, concrete = statement
    params = _values(instance, concrete, connection, add=False)
    params.append(meta.pk.get_db_prep_value(instance.pk, connection))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if cursor.rowcount != 1:
            raise DatabaseError(f"Updating {model.__name__} {instance.pk} changed {cursor.rowcount} rows.")
