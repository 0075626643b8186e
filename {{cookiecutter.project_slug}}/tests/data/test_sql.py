"""data.source: sql — the sample SQLite database, PostgreSQL when installed, and one line per mistake."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from {{ cookiecutter.module_name }}.cli import main
from {{ cookiecutter.module_name }}.data.load import BUNDLED, load_bundled, load_raw
from {{ cookiecutter.module_name }}.data.prepare import prepare_data
from {{ cookiecutter.module_name }}.project import load_project

from ..conftest import DEFAULT_CONFIG, write_config

SOURCE = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))["data"]["source"]  # the bundled dataset
OTHER = next(name for name in BUNDLED if name != SOURCE)


def sql_config(root: Path, **data: object) -> Path:
    return write_config(root, data={"source": "sql", **data})


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The file `make sample-db` writes, in a project folder of its own."""
    root = tmp_path_factory.mktemp("sample")
    assert main(["sample-db", "--config", str(write_config(root))]) == 0
    return root / "data" / "sample.db"


def test_sample_db_table_gives_the_same_data_as_the_bundled_source(sample_db: Path, tmp_path: Path) -> None:
    bundled = prepare_data(load_project(write_config(tmp_path / "bundled")))
    from_sql = prepare_data(
        load_project(sql_config(tmp_path / "sql", url=f"sqlite:///{sample_db}", table=SOURCE))
    )
    assert from_sql.digest == bundled.digest, "the same rows, columns and types after cleaning"


def test_sqlite_path_is_relative_to_the_project_and_a_query_picks_rows(
    sample_db: Path, tmp_path: Path
) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "shop.db").write_bytes(sample_db.read_bytes())
    query = f"SELECT * FROM {SOURCE} LIMIT 100"
    assert len(load_raw(load_project(sql_config(tmp_path, url="sqlite:///data/shop.db", query=query)))) == 100


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"url": "postgresql+nosuchdriver://analyst@localhost/shop"}, "data.url: no driver 'postgresql+nosuchdriver'"),
        ({"url": "no url"}, "data.url: 'no url' is not a database URL — write dialect+driver://user@host/database"),
        ({"url": "sqlite:///data/other.db"}, 'data.url: no SQLite file at'),
        ({"table": "nosuch"}, "data.table: no table 'nosuch' in sqlite:///"),
        ({"table": None, "query": "SELECT * FROM nosuch"}, "data.query: the database refused it (no such table: nosuch)"),
        ({"table": None, "query": f"SELECT * FROM {SOURCE} WHERE 1 = 0"}, "data.query: returned no rows from"),
        ({"url": "postgresql+psycopg://analyst@localhost/shop", "password_env": "SHOP_DB_PASSWORD"},
         "data.password_env: the environment variable SHOP_DB_PASSWORD is not set"),
        ({"url": "postgresql+psycopg://analyst:s3cret@localhost/shop"}, "data.url holds a password — remove it"),
        ({"url": "postgresql+psycopg://analyst@localhost/shop?password=s3cret"}, "data.url holds a password"),
        ({"query": "SELECT 1"}, "set exactly one of data.table and data.query"),
    ],
    ids=["bad-driver", "not-a-url", "missing-file", "missing-table", "failing-query", "empty-result",
         "password-not-set", "password-in-url", "password-in-query-string", "table-and-query"],
)  # fmt: skip
def test_sql_mistake_is_one_line_and_exit_code_1(
    data: dict[str, object],
    expected: str,
    sample_db: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    os.environ.pop("SHOP_DB_PASSWORD", None)
    config = sql_config(tmp_path, **{"url": f"sqlite:///{sample_db}", "table": SOURCE, **data})
    assert main(["data", "--config", str(config)]) == 1
    err = capsys.readouterr().err.strip()
    assert expected in err and len(err.splitlines()) == 1, err
    assert "s3cret" not in err


def test_switching_dataset_with_the_old_target_names_the_missing_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["data", "--config", str(write_config(tmp_path, data={"source": OTHER}))]) == 1
    err = capsys.readouterr().err.strip()
    target = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))["data"]["target"]
    assert f"data.target: column '{target}' is not in the data — " in err and len(err.splitlines()) == 1, err


def require_password(postgres_url: str, role: str, password: str) -> str:
    """Add a role the test server asks for a password (it trusts every other local user); return its URL."""
    engine = sa.create_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(sa.text(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'"))
        connection.execute(sa.text(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}"))
        hba = Path(connection.execute(sa.text("SHOW hba_file")).scalar_one())
        hba.write_text(f"local all {role} scram-sha-256\n" + hba.read_text())
        connection.execute(sa.text("SELECT pg_reload_conf()"))
    engine.dispose()
    time.sleep(0.3)  # the server rereads pg_hba.conf on its own time
    return postgres_url.replace("://monitor@", f"://{role}@")


def test_postgresql_table_and_query_read_like_the_bundled_source(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = sa.create_engine(postgres_url)
    load_bundled(SOURCE).to_sql(SOURCE, engine, if_exists="replace", index=False)
    engine.dispose()
    url = require_password(postgres_url, "analyst", "right-one")
    monkeypatch.setenv("SHOP_DB_PASSWORD", "right-one")
    bundled = prepare_data(load_project(write_config(tmp_path / "bundled")))
    table = sql_config(tmp_path / "table", url=url, password_env="SHOP_DB_PASSWORD", table=SOURCE)
    assert prepare_data(load_project(table)).digest == bundled.digest
    query = f'SELECT * FROM "{SOURCE}" LIMIT 50'
    assert len(load_raw(load_project(sql_config(tmp_path / "query", url=postgres_url, query=query)))) == 50

    monkeypatch.setenv("SHOP_DB_PASSWORD", "s3cret")
    assert main(["data", "--config", str(table)]) == 1
    err = capsys.readouterr().err.strip()
    assert "data.url: cannot connect to postgresql+psycopg://analyst:***@" in err, err
    assert 'password authentication failed for user "analyst"' in err, err
    assert len(err.splitlines()) == 1 and "s3cret" not in err
