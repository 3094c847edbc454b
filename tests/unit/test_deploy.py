"""The deployment files: valid, and running the documented command."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from compose_spec import PyCompose

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COMMAND = ["scrapy", "crawl", "backlinks"]  # the README's cluster command


SECRETS = (
    "REDIS_PASSWORD",
    "MONGO_ROOT_USER",
    "MONGO_ROOT_PASSWORD",
    "MONGO_CRAWLER_PASSWORD",
    "MONGO_READER_PASSWORD",
    "BACKLINKS_API_TOKEN",
)


def compose(monkeypatch, name="docker-compose.yml"):
    """The compose file, validated, as a dict (variables from a .env set to placeholders)."""
    for secret in SECRETS:
        monkeypatch.setenv(secret, "x")
    parsed = PyCompose.from_yaml((DEPLOY / name).read_text())
    parsed.to_spec()  # validates against the Compose Specification
    return parsed.to_dict()["services"]


def test_compose_file_is_valid_and_runs_the_documented_command(monkeypatch):
    services = compose(monkeypatch)
    assert set(services) == {"redis", "mongo-keyfile", "mongo", "mongo-init", "index-init", "worker", "web"}
    worker = services["worker"]
    assert worker["command"] == COMMAND
    env = worker["environment"]
    assert env["REDIS_URL"].startswith("redis://") and env["BACKLINKS_INDEX"].startswith("mongodb://")
    # Redis and MongoDB stay off the host's network interfaces; the web page listens on loopback only.
    assert all("ports" not in services[name] for name in services if name != "web")
    assert services["web"]["ports"] == ["127.0.0.1:8000:8000"]


def test_mongodb_is_a_replica_set_and_every_service_logs_in_with_least_privilege(monkeypatch):
    """A replica set (retryable writes, elections), initiated by an init container; the workers and
    ``backlinks init`` log in as ``crawler`` (readWrite), ``serve`` as ``reader`` (read); only the init
    container knows the root password."""
    services = compose(monkeypatch)
    mongo = services["mongo"]["command"]
    assert mongo[mongo.index("--replSet") + 1] == "rs0" and "--keyFile" in mongo
    script = (DEPLOY / "mongo-init.js").read_text()
    assert "rs.initiate(" in script and '"rs0"' in script
    assert '["crawler", process.env.MONGO_CRAWLER_PASSWORD, "readWrite"]' in script
    assert '["reader", process.env.MONGO_READER_PASSWORD, "read"]' in script
    assert services["index-init"]["command"] == ["backlinks", "init"]

    def user(service):
        uri = services[service]["environment"]["BACKLINKS_INDEX"]
        assert "replicaSet=rs0" in uri
        return uri.removeprefix("mongodb://").split(":")[0]

    assert (user("worker"), user("index-init"), user("web")) == ("crawler", "crawler", "reader")
    assert services["web"]["command"][:2] == ["backlinks", "serve"]
    root = [name for name, service in services.items() if "MONGO_ROOT_PASSWORD" in str(service)]
    assert sorted(root) == ["mongo", "mongo-init"]
    assert services["worker"]["depends_on"]["index-init"]["condition"] == "service_completed_successfully"


def test_the_live_suites_replica_set_has_three_members_with_failpoints(monkeypatch):
    services = compose(monkeypatch, "docker-compose.test.yml")
    members = [services[name]["command"] for name in ("m1", "m2", "m3")]
    assert all("rs0" in m and "enableTestCommands=1" in m for m in members)
    assert sorted(m[m.index("--port") + 1] for m in members) == ["27017", "27018", "27019"]
    initiate = " ".join(services["rs-init"]["command"])
    assert all(f"localhost:{port}" in initiate for port in (27017, 27018, 27019))


def test_compose_parser_rejects_an_invalid_file():
    import pytest

    with pytest.raises(Exception, match="bogus"):
        PyCompose.from_yaml("services:\n  w:\n    image: x\n    bogus: 1\n")


def test_image_command_is_the_documented_command():
    cmd = [line for line in (DEPLOY / "Dockerfile").read_text().splitlines() if line.startswith("CMD ")]
    assert [json.loads(c[4:]) for c in cmd] == [COMMAND]


def test_kubernetes_worker_reads_its_uris_from_the_secret():
    deployment = yaml.safe_load((DEPLOY / "k8s" / "worker-deployment.yaml").read_text())
    secret = yaml.safe_load((DEPLOY / "k8s" / "secret.example.yaml").read_text())
    assert (deployment["apiVersion"], deployment["kind"]) == ("apps/v1", "Deployment")
    spec = deployment["spec"]
    assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()
    (container,) = spec["template"]["spec"]["containers"]
    assert container["command"] == COMMAND
    assert container["envFrom"] == [{"secretRef": {"name": secret["metadata"]["name"]}}]
    assert set(secret["stringData"]) == {"REDIS_URL", "BACKLINKS_INDEX"}


def test_kubernetes_init_job_runs_backlinks_init_with_the_workers_secret():
    job = yaml.safe_load((DEPLOY / "k8s" / "init-job.yaml").read_text())
    secret = yaml.safe_load((DEPLOY / "k8s" / "secret.example.yaml").read_text())
    assert (job["apiVersion"], job["kind"]) == ("batch/v1", "Job")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["backlinks", "init"]
    assert container["envFrom"] == [{"secretRef": {"name": secret["metadata"]["name"]}}]
