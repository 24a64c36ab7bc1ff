"""Alembic's entry point: runs the migrations on the connection ``core.migrations`` hands over.

There is no alembic.ini: ``core.migrations`` builds the configuration from the engine of ``CAPA_DATABASE_URL``
and opens the connection (and its transaction and lock); use ``capa db ...``, not the ``alembic`` command.
"""

from alembic import context

from core.migrations import context_options

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `capa db upgrade` (core.migrations), which supplies the connection")

context.configure(connection=connection, **context_options(context.config))
with context.begin_transaction():
    context.run_migrations()
