"""The baked API's demo page (GET /) in a real headless Chromium: load, change a field, predict,
see the answer, see a field error.

Playwright for Python drives Debian's `chromium`; nothing is downloaded for the browser.
`SAVE_SCREENSHOTS=1` writes each dataset's screenshot to the template's docs/ (commit it):
    SAVE_SCREENSHOTS=1 python -m pytest tests/test_demo_page.py
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import TEMPLATE_DIR, project_env, python, run
from .test_bake import DATASETS

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
SCREENSHOTS = TEMPLATE_DIR / "{{cookiecutter.project_slug}}" / "docs"
SAVE_SCREENSHOTS = os.environ.get("SAVE_SCREENSHOTS", "") not in ("", "0", "false")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("no chromium: apt-get install -y chromium (as root), then run the tests again")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="pip install -r requirements-dev.txt"
    )
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def get_json(url: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@contextmanager
def serving(project: Path) -> Iterator[str]:
    """Run `<module> serve` on a free port until the model is loaded; yield its address."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **project_env(project),
        "PREDICTION_LOG_URL": f"sqlite:///{project / 'demo-page-log.db'}",
    }
    module = project.name.replace("-", "_")
    server = subprocess.Popen([python(), "-m", module, "serve", "--port", str(port)], cwd=project,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, f"the server exited: {server.stdout.read()}"  # type: ignore[union-attr]
            try:
                get_json(f"{url}/ready")
                break
            except OSError:
                assert time.monotonic() < deadline, "the server was not ready after 60 s"
                time.sleep(0.3)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.parametrize("dataset", DATASETS)
def test_demo_page_predicts_warns_and_names_the_bad_field(
    trained_project: Callable[[str], Path], browser: Any, dataset: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    project = trained_project(dataset)
    with serving(project) as url:
        record_schema = get_json(f"{url}/openapi.json")["components"]["schemas"]["Record"]
        # The first number feature, set beyond its training maximum: scored, and flagged in warnings.
        field, schema = next((name, schema) for name, schema in record_schema["properties"].items()
                             if "x-training-maximum" in schema)  # fmt: skip
        value = schema["x-training-maximum"] + 1
        expected = get_json(f"{url}/predict", {**record_schema["examples"][0], field: value})

        page = browser.new_page(viewport={"width": 1000, "height": 760})
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        page.goto(url)
        box = page.locator(f"#input-{field}")
        assert float(box.input_value()) == record_schema["examples"][0][field], (
            "prefilled from the example"
        )
        for link in ("/docs", "/model/card"):  # the API docs and the served model's card
            href = page.locator(f'header a[href="{link}"]').get_attribute("href")
            with urllib.request.urlopen(f"{url}{href}", timeout=10) as linked:
                assert linked.status == 200, f"the page links {link}, which must answer"
        box.fill(str(value))
        page.get_by_role("button", name="Predict").click()

        expect(page.locator("#model-version")).to_have_text(
            f"model version {expected['model_version']}"
        )
        shown = page.locator("#prediction").inner_text()
        if "probabilities" in expected:
            assert shown == expected["prediction"], "the page shows what POST /predict answers"
            expect(page.locator(".bar")).to_have_count(len(expected["probabilities"]))
        else:
            assert float(shown) == pytest.approx(expected["prediction"], rel=1e-3)
        expect(page.locator("#warnings")).to_contain_text(
            f"{field}: {value} is outside the training range"
        )
        screenshot = (SCREENSHOTS if SAVE_SCREENSHOTS else tmp_path) / f"demo-{dataset}.png"
        screenshot.parent.mkdir(exist_ok=True)
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(screenshot))

        box.fill("abc")
        page.get_by_role("button", name="Predict").click()
        expect(page.locator(f"#error-{field}")).to_have_text("Input should be a valid number")
        expect(box).to_have_attribute("aria-invalid", "true")
        expect(page.locator("#prediction")).to_have_count(0)
        outside = [address for address in requested if not address.startswith(url)]
        assert not outside, f"the page works offline, yet it asked for {outside}"
        page.close()


def test_demo_page_names_the_date_format_training_read(
    trained_project: Callable[[str], Path], browser: Any, tmp_path: Path
) -> None:
    """A day-first date column: its hint names the format, and the prefilled example is accepted."""
    from playwright.sync_api import expect

    trained = trained_project("penguins")
    project = tmp_path / trained.name
    shutil.copytree(trained, project, ignore=shutil.ignore_patterns("mlruns", "*.db"))
    script = (
        "import pandas as pd; from palmerpenguins import load_penguins; raw = load_penguins(); "
        "days = pd.Timestamp('2024-01-01') + pd.to_timedelta(range(len(raw)), unit='D'); "
        "raw['Seen On'] = days.strftime('%d/%m/%Y'); raw.to_csv('data/dated.csv', index=False)"
    )
    (project / "data").mkdir(exist_ok=True)
    run([python(), "-c", script], cwd=project)
    config_path = project / "configs" / "config.yaml"
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    config["data"].update(source="csv", path="data/dated.csv")
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    run([python(), "-m", project.name.replace("-", "_"), "pipeline"], cwd=project)
    with serving(project) as url:
        page = browser.new_page()
        page.goto(url)
        hint = page.locator("#input-seen_on ~ p.hint").first
        expect(hint).to_contain_text("date, as ISO 8601 (2024-01-31) or %d/%m/%Y")
        page.get_by_role("button", name="Predict").click()
        expect(page.locator("#prediction")).to_have_count(1)
        page.close()
