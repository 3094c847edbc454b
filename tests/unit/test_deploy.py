"""The deployment files: valid, and running the documented command."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from compose_spec import PyCompose

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COMMAND = ["scrapy", "crawl", "backlinks"]  # the README's cluster command


def test_compose_file_is_valid_and_runs_the_documented_command(monkeypatch):
    for name, value in (("REDIS_PASSWORD", "r"), ("MONGO_USER", "u"), ("MONGO_PASSWORD", "p")):
        monkeypatch.setenv(name, value)
    spec = PyCompose.from_yaml((DEPLOY / "docker-compose.yml").read_text()).to_spec()
    assert set(spec.services) == {"redis", "mongo", "worker"}
    worker = spec.services["worker"]
    assert worker.command == COMMAND
    env = PyCompose.from_yaml((DEPLOY / "docker-compose.yml").read_text()).to_dict()["services"]["worker"][
        "environment"
    ]
    assert env["REDIS_URL"].startswith("redis://") and env["BACKLINKS_INDEX"].startswith("mongodb://")
    # Redis and MongoDB stay off the host's network interfaces.
    assert spec.services["redis"].ports is None and spec.services["mongo"].ports is None


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
