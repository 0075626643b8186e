"""The after-release loop as a Prefect flow: monitor, then retrain when a check failed; the gate promotes.

Prefect 3.9 needs FastAPI < 0.151 and the API needs >= 0.165, so the flow runs from its own
environment (`make flow` makes .venv-flow with Prefect) and calls the project's commands
in .venv, as cron does. The cron line and the scheduled GitHub workflow stay the default; this is
for when you want runs, retries and logs in Prefect's UI.

    make flow                                              # one run, now, locally
    .venv-flow/bin/python flows/after_release.py --cron "0 * * * *"   # a deployment, hourly

The second serves a deployment from this process (Prefect's `flow.serve`): keep it running, and
watch the runs with `.venv-flow/bin/prefect server start` (http://127.0.0.1:4200).
"""

from __future__ import annotations

import argparse
import subprocess

from prefect import flow, task

MODULE = "{{ cookiecutter.module_name }}"
TOO_FEW_ROWS = 2  # monitor's exit code when it cannot judge


@task
def run_command(python: str, *args: str) -> int:
    """Run one CLI command with the project's Python; return its exit code (its output streams)."""
    return subprocess.run([python, "-m", MODULE, *args], check=False).returncode


@flow(name="after-release", log_prints=True)
def after_release(python: str = ".venv/bin/python", force: bool = False) -> str:
    """Monitor the served model; when a check fails (or with force), retrain and let the gate decide."""
    code = run_command(python, "monitor")
    if code == TOO_FEW_ROWS or (code == 0 and not force):
        return f"monitor exited {code}: nothing retrained"
    if run_command(python, "retrain", "--force") != 0:
        raise RuntimeError("retrain failed: its output above says why")
    return f"monitor exited {code}: retrained, and the gate decided (see promote's lines)"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=".venv/bin/python", help="The project's Python.")
    parser.add_argument("--force", action="store_true", help="Retrain even when monitor passes.")
    parser.add_argument("--cron", help='Serve a scheduled deployment instead, e.g. "0 * * * *".')
    options = parser.parse_args()
    if options.cron:
        after_release.serve(name="scheduled", cron=options.cron,
                            parameters={"python": options.python, "force": options.force})  # fmt: skip
    else:
        print(after_release(options.python, options.force))
