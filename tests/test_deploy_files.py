"""deploy/: the image, the compose stack and the Kubernetes manifests, checked offline.

No Docker engine, cluster or network is involved: the compose file is validated against the
vendored compose-spec schema (check-jsonschema), every Kubernetes object against the schemas that
ship inside kubernetes-validate (strict: unknown fields are errors), and the Dockerfile with
hadolint. The rest reads the files as data and checks what the service relies on.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from temporalio.common import SearchAttributeIndexedValueType

import domain.search_attributes as search_attributes
from config.settings import Settings
from starter.api import create_app

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE = DEPLOY / "compose.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE_SCHEMA = DEPLOY / "schemas" / "compose-spec.json"
COMPOSE_SCHEMA_SHA256 = "d549057ebc2925f39f62799eab0db7b9e2c18b35b6c00595199116da3ed10e64"
BIN = Path(sys.executable).parent

K8S_VERSION = "1.31.0"
"""A Kubernetes version whose schemas kubernetes-validate bundles (no download)."""

CONTRACT_SEARCH_ATTRIBUTES = {
    "SellerId": "Keyword",
    "OnboardingStage": "Keyword",
    "ClearedForReturns": "Bool",
    "WaitingOn": "KeywordList",
    "Stalled": "Bool",
    "ReturnState": "Keyword",
    "DisposalDueAt": "Datetime",
}
"""The contract's table (shared/contract.md), in the spelling of `temporal ... --type`."""

RETENTION = "720h"
"""30 days: a ReturnHold id must not be reused while its history is retained."""

REQUIRED_SECRETS = {"API_TOKEN", "BROKER_WEBHOOK_SECRET", "PAYLOAD_CODEC_KEYS"}
K8S_REQUIRED_SECRETS = REQUIRED_SECRETS | {"PGPASSWORD"}
"""Kubernetes also needs the password of Temporal's PostgreSQL, for the sent-ledger (compose has it)."""
AUTOSCALING = K8S / "autoscaling"
KEDA_SCHEMA = DEPLOY / "schemas" / "keda-scaledobject-v1alpha1.json"
KEDA_SCHEMA_SHA256 = "3d4f6639041b785ebe872a37d7aa4ea2229a76145a7de11f62abf4cbec7e89ce"
SECRET_NAME = re.compile(r"(TOKEN|SECRET|PASSWORD|PWD|KEYS?)$")
APP_UID = 10001


# --- helpers -------------------------------------------------------------------------------------


def is_placeholder(value: str) -> bool:
    """A public placeholder: ``PLACEHOLDER…``, or a Standard Webhooks secret whose bytes say so."""
    if value.startswith("whsec_"):
        return base64.b64decode(value.removeprefix("whsec_")).startswith(b"PLACEHOLDER")
    return value.startswith("PLACEHOLDER")


def run(*command: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )


@cache
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def service(name: str) -> dict[str, Any]:
    found: dict[str, Any] = compose()["services"][name]
    return found


def kustomization() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return loaded


def manifest_files() -> list[Path]:
    return sorted(path for path in K8S.glob("*.yaml") if path.name != "kustomization.yaml")


def k8s_objects() -> list[dict[str, Any]]:
    return [doc for path in manifest_files() for doc in yaml.safe_load_all(path.read_text()) if doc]


def k8s_object(kind: str, name: str) -> dict[str, Any]:
    matches = [o for o in k8s_objects() if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def registered_search_attributes(script: str) -> dict[str, str]:
    """The name -> type of every `temporal operator search-attribute create` in a shell script."""
    found = re.findall(r"search-attribute create\b[^\n]*?--name\s+(\S+)\s+--type\s+(\S+)", script)
    assert script.count("search-attribute create") == len(found), "a create without --name/--type"
    names = [name for name, _ in found]
    assert len(names) == len(set(names)), f"an attribute is registered twice: {names}"
    return dict(found)


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    logical: list[str] = []
    pending = ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical.append(pending + stripped)
        pending = ""
    pairs = []
    for instruction in logical:
        keyword, _, arguments = instruction.partition(" ")
        pairs.append((keyword.upper(), arguments.strip()))
    return pairs


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for keyword, arguments in dockerfile_instructions():
        if keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((keyword, arguments))
    return stages


# --- the contract itself --------------------------------------------------------------------------


def test_the_expected_search_attributes_are_the_ones_the_code_declares() -> None:
    cli_names = {
        SearchAttributeIndexedValueType.KEYWORD: "Keyword",
        SearchAttributeIndexedValueType.BOOL: "Bool",
        SearchAttributeIndexedValueType.KEYWORD_LIST: "KeywordList",
        SearchAttributeIndexedValueType.DATETIME: "Datetime",
    }
    declared = {key.name: cli_names[key.indexed_value_type] for key in search_attributes.ALL}
    assert declared == CONTRACT_SEARCH_ATTRIBUTES


# --- Dockerfile ------------------------------------------------------------------------------------


def test_dockerfile_passes_hadolint_without_any_finding() -> None:
    hadolint = BIN / "hadolint"
    result = run(hadolint, "--failure-threshold", "style", DOCKERFILE.relative_to(ROOT))
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_dockerfile_is_multi_stage_with_a_slim_python_runtime() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2
    args = {
        name: default
        for keyword, arguments in dockerfile_instructions()
        if keyword == "ARG" and "=" in arguments
        for name, default in [arguments.split("=", 1)]
    }
    image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], stages[-1][0][1].split()[0])
    assert image.startswith("python:3.11-slim"), image
    # The builder installs the project from pyproject.toml with pip.
    builder_runs = " ".join(a for k, a in stages[0] if k == "RUN")
    assert re.search(r"pip install(\s+--?[\w-]+)*\s+\.(\s|$)", builder_runs), builder_runs


def test_dockerfile_final_stage_runs_as_a_fixed_non_root_user() -> None:
    final = dockerfile_stages()[-1]
    users = [arguments for keyword, arguments in final if keyword == "USER"]
    assert users, "the final stage sets no USER (it would run as root)"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    assert user == str(APP_UID), "the Kubernetes manifests rely on a fixed numeric UID"


def test_dockerfile_final_stage_has_no_build_tools_and_only_the_app() -> None:
    final = dockerfile_stages()[-1]
    runs = " ".join(arguments for keyword, arguments in final if keyword == "RUN")
    for tool in ("apt-get", "apk ", "gcc", "build-essential", "pip install"):
        assert tool not in runs, f"the final stage runs {tool}"
    copies = [arguments for keyword, arguments in final if keyword == "COPY"]
    sources = {arguments.split()[0].rstrip("/") for arguments in copies if "--from" not in arguments}
    assert sources == {
        "config",
        "domain",
        "gateway",
        "workflows",
        "activities",
        "starter",
        "codec",
        "i18n",
        "templates",
        "locale",
        "scripts",
        "worker.py",
    }
    assert [a for a in copies if "--from" in a] == ["--from=builder /opt/venv /opt/venv"]
    env = " ".join(arguments for keyword, arguments in final if keyword == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env and "PYTHONUNBUFFERED=1" in env
    cmd = [arguments for keyword, arguments in final if keyword == "CMD"]
    assert cmd == ['["python", "worker.py"]']


def test_the_builder_copies_every_package_pyproject_installs() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {name.split(".")[0] for name in pyproject["tool"]["setuptools"]["packages"]}
    modules = {f"{name}.py" for name in pyproject["tool"]["setuptools"]["py-modules"]}
    builder = dockerfile_stages()[0]
    install = next(i for i, (k, a) in enumerate(builder) if k == "RUN" and "--no-deps ." in a)
    copied = {a.split()[0].rstrip("/") for k, a in builder[:install] if k == "COPY"}
    assert packages | modules <= copied, sorted((packages | modules) - copied)


def test_dockerignore_lets_in_exactly_what_the_image_copies() -> None:
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    assert "*" in ignore, "not an allow-list: everything is excluded first"
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    copied = {
        arguments.split()[0].rstrip("/")
        for keyword, arguments in dockerfile_instructions()
        if keyword == "COPY" and "--from" not in arguments
    }
    assert copied == allowed


# --- compose -------------------------------------------------------------------------------------


def test_vendored_compose_schema_is_the_recorded_upstream_copy() -> None:
    assert hashlib.sha256(COMPOSE_SCHEMA.read_bytes()).hexdigest() == COMPOSE_SCHEMA_SHA256


def test_compose_file_validates_against_the_compose_spec_schema() -> None:
    result = run(BIN / "check-jsonschema", "--schemafile", COMPOSE_SCHEMA, COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_schema_check_does_reject_an_invalid_file(tmp_path: Path) -> None:
    broken = tmp_path / "compose.yaml"
    broken.write_text("services:\n  worker:\n    image: carm-returns\n    replicas: 2\n")
    result = run(BIN / "check-jsonschema", "--schemafile", COMPOSE_SCHEMA, broken)
    assert result.returncode != 0


def test_compose_runs_the_expected_services() -> None:
    assert set(compose()["services"]) == {
        "postgres",
        "temporal-schema",
        "temporal",
        "temporal-setup",
        "temporal-ui",
        "worker",
        "api",
        "codec-server",
    }


def test_compose_temporal_runs_on_postgres_with_a_persistent_volume() -> None:
    postgres = service("postgres")
    assert postgres["healthcheck"]["test"]
    volume = postgres["volumes"][0].split(":")[0]
    assert volume in compose()["volumes"], "postgres data must live in a named volume"
    temporal = service("temporal")
    assert temporal["environment"]["DB"] == "postgres12"
    assert temporal["environment"]["POSTGRES_SEEDS"] == "postgres"
    assert temporal["depends_on"]["temporal-schema"]["condition"] == "service_completed_successfully"
    # The dynamic config file the server is told to read is the one mounted from deploy/.
    mount_source, mount_target = temporal["volumes"][0].split(":")[:2]
    dynamic_config = DEPLOY / mount_source / Path(temporal["environment"]["DYNAMIC_CONFIG_FILE_PATH"]).name
    assert mount_target == "/etc/temporal/config/dynamicconfig"
    assert isinstance(yaml.safe_load(dynamic_config.read_text()), dict)
    schema_script = service("temporal-schema")["command"][0]
    for database in ("temporal", "temporal_visibility"):
        for step in ("create", "setup-schema", "update-schema"):
            assert re.search(rf"--db {database} {step}\b", schema_script), (database, step)


def test_compose_worker_and_api() -> None:
    worker, api = service("worker"), service("api")
    assert worker["deploy"]["replicas"] == 2
    assert worker["command"] == ["python", "worker.py"]
    assert api["command"] == ["python", "-m", "starter.api"]
    assert "8000:8000" in api["ports"]
    assert any(port.endswith("8080:8080") for port in service("temporal-ui")["ports"])
    for app in (worker, api):
        assert app["environment"]["LOG_FORMAT"] == "json"
        assert app["environment"]["TEMPORAL_ADDRESS"] == "temporal:7233"
        assert app["depends_on"]["temporal-setup"]["condition"] == "service_completed_successfully"
        assert app["build"]["dockerfile"] == "deploy/Dockerfile"
    # The worker serves metrics for its health check, and gets time to drain on SIGTERM.
    assert worker["environment"]["METRICS_BIND_ADDRESS"].endswith(":9000")
    assert "9000/metrics" in " ".join(worker["healthcheck"]["test"])
    assert "8000/healthz" in " ".join(api["healthcheck"]["test"])
    assert int(worker["stop_grace_period"].rstrip("s")) >= 30


def test_compose_has_no_hard_coded_secrets() -> None:
    for name, definition in compose()["services"].items():
        for key, value in (definition.get("environment") or {}).items():
            if SECRET_NAME.search(key):
                assert value is None or re.fullmatch(r"\$\{(\w+):\?[^}]*\}", str(value)), (name, key, value)
    for app in ("worker", "api"):
        environment = service(app)["environment"]
        for secret in REQUIRED_SECRETS:
            assert re.fullmatch(rf"\$\{{{secret}:\?[^}}]*\}}", environment[secret]), (app, secret)


def _strings(node: object) -> list[str]:
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in (*_strings(key), *_strings(value))]
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    return [node] if isinstance(node, str) else []


def test_env_example_defines_every_required_variable_with_a_placeholder() -> None:
    required = {name for text in _strings(compose()) for name in re.findall(r"\$\{(\w+):\?", text)}
    assert REQUIRED_SECRETS | {"POSTGRES_PASSWORD"} <= required
    example = dict(
        line.split("=", 1)
        for line in (DEPLOY / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert set(example) == required
    assert all(is_placeholder(value) for value in example.values())
    for value in example.values():
        assert value not in COMPOSE.read_text()
    # A throwaway run with these values starts an API (the webhook secret is well formed).
    create_app(
        Settings(api_token=example["API_TOKEN"], broker_webhook_secret=example["BROKER_WEBHOOK_SECRET"])
    )


def test_compose_search_attribute_job_registers_exactly_the_contract() -> None:
    setup = service("temporal-setup")
    assert setup["image"].startswith("temporalio/admin-tools:")
    script = setup["command"][0]
    assert registered_search_attributes(script) == CONTRACT_SEARCH_ATTRIBUTES
    assert setup["environment"]["TEMPORAL_RETENTION"] == RETENTION
    assert "namespace update" in script and "namespace create" in script


# --- Kubernetes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: p.name)
def test_k8s_manifest_validates_strictly(path: Path) -> None:
    documents = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    assert documents
    for document in documents:
        kubernetes_validate.validate(document, K8S_VERSION, strict=True)


def test_strict_k8s_validation_does_reject_an_unknown_field() -> None:
    worker = yaml.safe_load((K8S / "worker-deployment.yaml").read_text())
    worker["spec"]["replica"] = 3
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(worker, K8S_VERSION, strict=True)


def test_kustomization_lists_every_manifest_and_only_existing_ones() -> None:
    k = kustomization()
    assert k["apiVersion"] == "kustomize.config.k8s.io/v1beta1" and k["kind"] == "Kustomization"
    assert sorted(k["resources"]) == sorted(path.name for path in manifest_files())
    assert k["namespace"] == k8s_object("Namespace", k["namespace"])["metadata"]["name"]
    for obj in k8s_objects():
        assert obj["metadata"].get("namespace") in (None, k["namespace"]), obj["metadata"]
    # Images: the Deployments use the name the kustomization rewrites.
    images = {image["name"] for image in k["images"]}
    for name in ("carm-returns-worker", "carm-returns-api"):
        for container in pod_spec(k8s_object("Deployment", name))["containers"]:
            assert container["image"].split(":")[0] in images


def test_kustomization_generates_the_secret_from_an_uncommitted_env_file() -> None:
    (generator,) = kustomization()["secretGenerator"]
    (env_file,) = generator["envs"]
    assert env_file in (K8S / ".gitignore").read_text().split()
    example = (K8S / f"{env_file}.example").read_text().splitlines()
    defined = dict(line.split("=", 1) for line in example if line and not line.startswith("#"))
    assert set(defined) == K8S_REQUIRED_SECRETS
    assert all(is_placeholder(value) for value in defined.values())
    # Both Deployments read that Secret, by the generator's name (kustomize adds the hash suffix).
    for name in ("carm-returns-worker", "carm-returns-api"):
        (container,) = pod_spec(k8s_object("Deployment", name))["containers"]
        refs = {ref["secretRef"]["name"] for ref in container["envFrom"] if "secretRef" in ref}
        assert refs == {generator["name"]}


def test_k8s_has_no_secret_values_in_plain_manifests() -> None:
    config = k8s_object("ConfigMap", "carm-returns-config")["data"]
    assert not [key for key in config if SECRET_NAME.search(key)]
    assert not [o for o in k8s_objects() if o["kind"] == "Secret"], "secrets come from the generator"
    for obj in k8s_objects():
        if obj["kind"] in ("Deployment", "Job"):
            for container in pod_spec(obj)["containers"]:
                for variable in container.get("env", []):
                    assert not SECRET_NAME.search(variable["name"]), (obj["metadata"]["name"], variable)


def _probe_port(container: dict[str, Any], probe: dict[str, Any]) -> int:
    action: dict[str, Any] = probe.get("httpGet") or probe["tcpSocket"]
    port = action["port"]
    if isinstance(port, int):
        return port
    (number,) = [p["containerPort"] for p in container["ports"] if p["name"] == port]
    return int(number)


def _assert_hardened(spec: dict[str, Any], container: dict[str, Any]) -> None:
    pod_security, security = spec["securityContext"], container["securityContext"]
    assert pod_security["runAsNonRoot"] is True and security["runAsNonRoot"] is True
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert pod_security["seccompProfile"]["type"] == "RuntimeDefault"
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][kind]), kind


def _assert_data_dir_is_an_empty_dir(spec: dict[str, Any], container: dict[str, Any]) -> None:
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert "emptyDir" in volumes[mounts["/app/data"]]


def test_k8s_worker_deployment() -> None:
    worker = k8s_object("Deployment", "carm-returns-worker")
    spec = pod_spec(worker)
    (container,) = spec["containers"]
    assert worker["spec"]["replicas"] >= 2
    assert container["command"] == ["python", "worker.py"]
    metrics = {e["name"]: e["value"] for e in container["env"]}["METRICS_BIND_ADDRESS"]
    metrics_port = int(metrics.rsplit(":", 1)[1])
    for kind in ("livenessProbe", "readinessProbe"):
        probe = container[kind]
        assert probe["httpGet"]["path"] == "/metrics", kind
        assert _probe_port(container, probe) == metrics_port, kind
    _assert_hardened(spec, container)
    assert spec["securityContext"]["runAsUser"] == APP_UID
    _assert_data_dir_is_an_empty_dir(spec, container)
    # The worker drains for up to 20 s after SIGTERM (worker.py).
    assert spec["terminationGracePeriodSeconds"] >= 30
    config = k8s_object("ConfigMap", "carm-returns-config")["data"]
    assert config["TEMPORAL_TASK_QUEUE"] == "carm-returns" and config["LOG_FORMAT"] == "json"
    assert config["TEMPORAL_ADDRESS"].startswith("temporal-frontend.temporal.svc:")


def test_k8s_worker_disruption_budget_covers_the_worker_pods() -> None:
    budget = k8s_object("PodDisruptionBudget", "carm-returns-worker")
    worker = k8s_object("Deployment", "carm-returns-worker")
    selector = budget["spec"]["selector"]["matchLabels"]
    assert selector.items() <= worker["spec"]["template"]["metadata"]["labels"].items()
    assert budget["spec"]["maxUnavailable"] < worker["spec"]["replicas"]


def test_k8s_api_deployment_and_service() -> None:
    api = k8s_object("Deployment", "carm-returns-api")
    spec = pod_spec(api)
    (container,) = spec["containers"]
    assert api["spec"]["replicas"] == 2
    assert container["command"] == ["python", "-m", "starter.api"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["API_HOST"] == "0.0.0.0" and env["API_PORT"] == "8000"
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert _probe_port(container, container["readinessProbe"]) == 8000
    assert "livenessProbe" in container
    _assert_hardened(spec, container)
    assert spec["securityContext"]["runAsUser"] == APP_UID
    _assert_data_dir_is_an_empty_dir(spec, container)
    service_ = k8s_object("Service", "carm-returns-api")
    assert service_["spec"]["selector"].items() <= api["spec"]["template"]["metadata"]["labels"].items()
    (port,) = service_["spec"]["ports"]
    assert _probe_port(container, {"tcpSocket": {"port": port["targetPort"]}}) == 8000


def test_k8s_search_attribute_job_registers_exactly_the_contract() -> None:
    job = k8s_object("Job", "carm-returns-temporal-setup")
    spec = pod_spec(job)
    (container,) = spec["containers"]
    assert container["image"].startswith("temporalio/admin-tools:")
    assert container["command"] == ["/bin/sh", "-c"]
    script = container["args"][0]
    assert registered_search_attributes(script) == CONTRACT_SEARCH_ATTRIBUTES
    env = {e["name"]: e for e in container["env"]}
    assert env["TEMPORAL_RETENTION"]["value"] == RETENTION
    assert env["TEMPORAL_ADDRESS"]["valueFrom"]["configMapKeyRef"]["name"] == "carm-returns-config"
    assert "namespace update" in script and "namespace create" in script
    _assert_hardened(spec, container)


def test_compose_and_k8s_setup_jobs_run_the_same_script() -> None:
    compose_script = service("temporal-setup")["command"][0].replace("$$", "$")
    (container,) = pod_spec(k8s_object("Job", "carm-returns-temporal-setup"))["containers"]
    assert compose_script == container["args"][0]


# --- Helm values for the Temporal chart ----------------------------------------------------------


def test_helm_values_put_temporal_on_postgres_without_inline_passwords() -> None:
    values = yaml.safe_load((DEPLOY / "helm-values" / "temporal-values.yaml").read_text())
    # The 1.x chart fails on the removed sub-chart keys and on the legacy persistence layout.
    for removed in ("cassandra", "elasticsearch", "prometheus", "grafana", "mysql", "postgresql"):
        assert removed not in values, removed
    assert not {"createDatabase", "setup", "update"} & set(values.get("schema") or {})
    persistence = values["server"]["config"]["persistence"]
    assert "default" not in persistence and "visibility" not in persistence
    stores = persistence["datastores"]
    assert {persistence["defaultStore"], persistence["visibilityStore"]} == set(stores)
    for store in stores.values():
        sql = store["sql"]
        assert sql["pluginName"] == "postgres12"
        assert "password" not in sql and sql["existingSecret"]
    namespaces = values["server"]["config"]["namespaces"]
    assert namespaces["create"] is True
    assert namespaces["namespace"] == [{"name": "default", "retention": RETENTION}]


# --- the SMTP sent-ledger, on Temporal's PostgreSQL -----------------------------------------------


def test_compose_workers_share_a_ledger_on_the_postgres_of_temporal() -> None:
    worker = service("worker")["environment"]
    url = worker["LEDGER_DATABASE_URL"]
    found = re.fullmatch(r"postgresql://temporal@(\w+):5432/(\w+)", url)
    assert found, url
    host, database = found.groups()
    assert host == "postgres" and host in compose()["services"]
    assert worker["PGPASSWORD"] == service("postgres")["environment"]["POSTGRES_PASSWORD"]
    assert re.search(rf"--db {database} create\b", service("temporal-schema")["command"][0])
    assert "LEDGER_DATABASE_URL" not in service("api")["environment"], "only workers send e-mail"


def test_k8s_workers_share_a_ledger_on_the_postgres_of_temporal() -> None:
    url = k8s_object("ConfigMap", "carm-returns-config")["data"]["LEDGER_DATABASE_URL"]
    values = yaml.safe_load((DEPLOY / "helm-values" / "temporal-values.yaml").read_text())
    temporal_db = values["server"]["config"]["persistence"]["datastores"]["default"]["sql"]
    assert url == f"postgresql://{temporal_db['user']}@{temporal_db['connectAddr']}/carm_returns"


# --- autoscaling with KEDA ------------------------------------------------------------------------

TEMPORAL_SCALER_KEYS = {
    "endpoint",
    "namespace",
    "activationTargetQueueSize",
    "targetQueueSize",
    "taskQueue",
    "queueTypes",
    "workerDeploymentName",
    "workerDeploymentBuildId",
    "includeRunningWorkflowCount",
    "workflowTaskQueueForCount",
    "minConnectTimeout",
    "enableTLS",
    "unsafeSsl",
    "tlsServerName",
}
"""The metadata KEDA's temporal scaler reads (pkg/scalers/temporal_scaler.go, KEDA 2.20)."""
TEMPORAL_SCALER_FROM_ENV = {"endpoint", "namespace", "taskQueue", "workflowTaskQueueForCount", "apiKey"}
"""Those it may read from the scale target's environment instead, as ``<key>FromEnv``."""


def scaled_object() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((AUTOSCALING / "worker-scaledobject.yaml").read_text())
    return loaded


def keda_schema_errors(document: dict[str, Any]) -> list[str]:
    schema = json.loads(KEDA_SCHEMA.read_text())
    return sorted(error.message for error in jsonschema.Draft7Validator(schema).iter_errors(document))


def temporal_trigger_problems(metadata: dict[str, Any]) -> list[str]:
    """What the CRD cannot say about a temporal trigger (its metadata is a free map of strings)."""
    allowed = TEMPORAL_SCALER_KEYS | {f"{key}FromEnv" for key in TEMPORAL_SCALER_FROM_ENV}
    problems = [f"unknown key {key!r}" for key in metadata if key not in allowed]
    problems += [
        f"{key} is required"
        for key in ("endpoint", "taskQueue")
        if not {key, f"{key}FromEnv"} & set(metadata)
    ]
    for key in ("targetQueueSize", "activationTargetQueueSize", "minConnectTimeout"):
        if key in metadata and not str(metadata[key]).isdigit():
            problems.append(f"{key} must be a whole number")
    problems += [
        f"unknown queue type {kind!r}"
        for kind in str(metadata.get("queueTypes", "workflow")).split(",")
        if kind not in ("workflow", "activity")
    ]
    return problems


def test_vendored_keda_schema_is_the_recorded_derivation() -> None:
    assert hashlib.sha256(KEDA_SCHEMA.read_bytes()).hexdigest() == KEDA_SCHEMA_SHA256


def test_kubernetes_validate_cannot_check_a_scaled_object() -> None:
    # Why the test below brings its own schema: this validator knows only Kubernetes' kinds.
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        kubernetes_validate.validate(scaled_object(), K8S_VERSION, strict=True)


def test_worker_scaled_object_validates_against_kedas_crd_schema() -> None:
    document = scaled_object()
    assert keda_schema_errors(document) == []
    (trigger,) = document["spec"]["triggers"]
    assert trigger["type"] == "temporal"
    assert temporal_trigger_problems(trigger["metadata"]) == []
    result = run(
        BIN / "check-jsonschema", "--schemafile", KEDA_SCHEMA, AUTOSCALING / "worker-scaledobject.yaml"
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            lambda d: d["spec"]["triggers"][0]["metadata"].update(targetQueueSize=20),
            "20 is not of type 'string'",
        ),
        (lambda d: d["spec"].update(minReplicas=2), "'minReplicas' was unexpected"),
        (lambda d: d["spec"].pop("scaleTargetRef"), "'scaleTargetRef' is a required property"),
        (lambda d: d["spec"]["triggers"][0].pop("type"), "'type' is a required property"),
    ],
)
def test_the_keda_schema_check_does_reject_a_bad_object(change: Any, problem: str) -> None:
    document = copy.deepcopy(scaled_object())
    change(document)
    assert any(problem in error for error in keda_schema_errors(document)), keda_schema_errors(document)


def test_the_trigger_check_does_reject_bad_metadata() -> None:
    assert temporal_trigger_problems({"endpoint": "x:7233", "taskqueue": "q", "queueTypes": "workflows"}) == [
        "unknown key 'taskqueue'",
        "taskQueue is required",
        "unknown queue type 'workflows'",
    ]


def test_the_scaled_object_scales_the_worker_on_its_own_task_queue() -> None:
    document = scaled_object()
    worker = k8s_object("Deployment", "carm-returns-worker")
    assert document["spec"]["scaleTargetRef"]["name"] == worker["metadata"]["name"]
    budget = k8s_object("PodDisruptionBudget", "carm-returns-worker")
    assert document["spec"]["minReplicaCount"] > budget["spec"]["maxUnavailable"]
    assert document["spec"]["minReplicaCount"] <= document["spec"]["maxReplicaCount"]  # KEDA's CEL rule
    # KEDA reads these from the worker container's environment: they must be there.
    (container,) = pod_spec(worker)["containers"]
    config = k8s_object("ConfigMap", "carm-returns-config")["data"]
    environment = {e["name"] for e in container.get("env", [])} | set(config)
    (trigger,) = document["spec"]["triggers"]
    for key, variable in trigger["metadata"].items():
        if key.endswith("FromEnv"):
            assert variable in environment, (key, variable)


def test_the_autoscaling_overlay_adds_the_scaled_object_and_lets_it_own_the_replicas() -> None:
    overlay = yaml.safe_load((AUTOSCALING / "kustomization.yaml").read_text())
    assert overlay["namespace"] == kustomization()["namespace"]
    assert sorted(overlay["resources"]) == ["../", "worker-scaledobject.yaml"]
    (patch,) = overlay["patches"]
    assert patch["target"] == {"kind": "Deployment", "name": "carm-returns-worker"}
    assert yaml.safe_load(patch["patch"]) == [{"op": "remove", "path": "/spec/replicas"}]
    assert "replicas" in k8s_object("Deployment", "carm-returns-worker")["spec"]  # there to remove
