"""Read the configured SQL table or query through SQLAlchemy, in chunks; the password from $data.password_env."""

from __future__ import annotations

import os

import pandas as pd
import sqlalchemy as sa

from ..errors import DataError
from ..project import Project

# Rows fetched at a time: the database driver never holds the whole result as Python objects.
CHUNK_ROWS = 50_000
MAX_LISTED = 20  # tables an error lists before "…"


def read_sql(project: Project) -> pd.DataFrame:
    """Read data.table or data.query from the database at data.url."""
    data = project.config.data
    url = database_url(project)
    shown = url.render_as_string(hide_password=True)
    try:
        engine = sa.create_engine(url)
    except (sa.exc.NoSuchModuleError, ImportError) as exc:
        raise DataError(
            f"data.url: no driver '{url.drivername}' ({first_line(exc)}) — install its package, or use one such as postgresql+psycopg or sqlite."
        ) from None
    try:
        with engine.connect() as connection:
            frame = read_chunks(connection, shown, data.table, data.query)
    except sa.exc.DBAPIError as exc:  # read_chunks reports a failing query itself: this is the connection
        secret = f"the password in ${data.password_env}" if data.password_env else "data.password_env"
        raise DataError(
            f"data.url: cannot connect to {shown} ({first_line(exc.orig)}) — check the host, database, user and {secret}."
        ) from None
    finally:
        engine.dispose()
    if frame.empty:
        source = f"data.table '{data.table}'" if data.table else "data.query"
        raise DataError(
            f"{source}: returned no rows from {shown} — check the table or the query's WHERE clause."
        )
    return frame


def read_chunks(connection: sa.Connection, shown: str, table: str | None, query: str | None) -> pd.DataFrame:
    """Stream the result (a server-side cursor where the database has one) and join the chunks."""
    if table:
        inspector = sa.inspect(connection)
        names = inspector.get_table_names() + inspector.get_view_names()
        if table not in names:
            listed = ", ".join(names[:MAX_LISTED]) + (", …" if len(names) > MAX_LISTED else "")
            raise DataError(f"data.table: no table '{table}' in {shown} — tables there: {listed or 'none'}.")
        statement = sa.select(sa.text("*")).select_from(sa.table(table))
    else:
        statement = sa.text(query)
    streaming = connection.execution_options(stream_results=True)
    try:
        chunks = pd.read_sql_query(statement, streaming, chunksize=CHUNK_ROWS)
        return pd.concat(chunks, ignore_index=True)
    except sa.exc.DBAPIError as exc:
        key = "data.table" if table else "data.query"
        raise DataError(f"{key}: the database refused it ({first_line(exc.orig)}) — check {key}.") from None


def database_url(project: Project) -> sa.URL:
    """Parse data.url, add the password from the environment, anchor a relative SQLite file at the project."""
    data = project.config.data
    try:
        url = sa.make_url(data.url)
    except sa.exc.ArgumentError:
        raise DataError(
            f"data.url: '{data.url}' is not a database URL — write dialect+driver://user@host/database, e.g. postgresql+psycopg://analyst@db.internal/shop or sqlite:///data/sample.db."
        ) from None
    if data.password_env:
        password = os.environ.get(data.password_env)
        if not password:
            raise DataError(
                f"data.password_env: the environment variable {data.password_env} is not set — export {data.password_env}=… first (the password never goes in config.yaml)."
            )
        url = url.set(password=password)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        path = project.path(url.database)
        if not path.is_file():  # SQLite would create an empty database instead
            raise DataError(
                f'data.url: no SQLite file at {path} — run "make sample-db" for the bundled data, or fix the path (relative to {project.root}).'
            )
        url = url.set(database=str(path))
    return url


def first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
