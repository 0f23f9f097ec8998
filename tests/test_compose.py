"""The production stack (docker-compose.yml, Dockerfile, deploy/) checked without a Docker engine.

- the compose file validates against the compose specification's JSON Schema (vendored in
  tests/data/compose-spec/), before and after its ${...} references are filled from .env.example;
- images are pinned to a version tag (never ``latest``), the promised health checks exist and every
  ``depends_on`` condition can be met; named volumes are declared and bind-mounted paths exist;
- every ``claimwatch`` command it runs, and every one docs/deploy.md shows, exists in the CLI with
  the options used; every ``CLAIMWATCH_*`` variable is a setting and the values load;
- Grafana's provisioning points at files that exist, the datasource the dashboards ask for, and a
  ClickHouse user allowed to read the tables the dashboards query;
- the Dockerfile builds from a pinned base as a non-root user, with constraints that agree with
  pyproject.toml's pins;
- the optional `cluster` profile (Keeper + 2 shards × 2 replicas) is the topology the cluster tests
  run (tests/cluster.py): each node's place in remote_servers matches its macros, and turning the
  profile on (the two .env lines) gives valid settings naming that cluster.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import click
import jsonschema
import pytest
import yaml

import pipeline
from pipeline.commands.main import main
from pipeline.config import Settings, load_settings
from tests import cluster as tested_cluster

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
SCHEMA = Path(__file__).resolve().parent / "data" / "compose-spec" / "compose-spec.json"
CLAIMWATCH_IMAGE = "claimwatch"
EXTERNAL_IMAGES = {
    "kafka": "apache/kafka",
    "clickhouse": "clickhouse/clickhouse-server",
    "grafana": "grafana/grafana",
}
HEALTHCHECKED = ("kafka", "clickhouse", "grafana", "console")
OPERATOR_MADE = {"./inbox"}  # bind-mount sources the operator creates (docs/deploy.md)
_REFERENCE = re.compile(r"\$(?:\{(?P<braced>[^}]*)\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))")
_BRACED = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>.*))?$", re.S)


# ---------------------------------------------------------------------------------------------
# Reading the files


def env_file(path: Path) -> dict[str, str]:
    """KEY=value lines of an env file (comments and blank lines skipped)."""
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"{path.name}: not KEY=value: {line!r}"
            values[key.strip()] = value.strip()
    return values


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's variable substitution: $$, $NAME, ${NAME}, ${NAME:-default}, ${NAME:?error}."""
    out, pos = [], 0
    for match in re.finditer(r"\$\$|" + _REFERENCE.pattern, text):
        out.append(text[pos : match.start()])
        pos = match.end()
        if match.group(0) == "$$":
            out.append("$")
            continue
        out.append(_substitute(match.group("braced") or match.group("plain"), env))
    return "".join(out) + text[pos:]


def _substitute(reference: str, env: Mapping[str, str]) -> str:
    parsed = _BRACED.match(reference)
    assert parsed, f"unsupported reference ${{{reference}}}"
    name, op, arg = parsed.group("name", "op", "arg")
    value = env.get(name)
    unset = value is None or (op is not None and op.startswith(":") and value == "")
    if op in (":-", "-") and unset:
        return interpolate(arg, env)
    if op in (":?", "?") and unset:
        raise AssertionError(f"${{{name}}} is required: {arg}")
    assert value is not None, f"${{{name}}} has no default and .env.example does not set it"
    return value


def filled(node: Any, env: Mapping[str, str]) -> Any:
    """The compose document with every string interpolated."""
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [filled(item, env) for item in node]
    if isinstance(node, dict):
        return {key: filled(value, env) for key, value in node.items()}
    return node


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def example_env() -> dict[str, str]:
    return env_file(ROOT / ".env.example")


@pytest.fixture(scope="module")
def compose(raw: dict[str, Any], example_env: dict[str, str]) -> dict[str, Any]:
    result: dict[str, Any] = filled(raw, example_env)
    return result


def services(compose: Mapping[str, Any]) -> Mapping[str, Mapping[str, Any]]:
    found: Mapping[str, Mapping[str, Any]] = compose["services"]
    return found


def claimwatch_services(compose: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for name, service in services(compose).items():
        if str(service.get("image", "")).split(":")[0] == CLAIMWATCH_IMAGE:
            yield name, service


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


# ---------------------------------------------------------------------------------------------
# Structure


@pytest.mark.parametrize("stage", ["as written", "interpolated"])
def test_compose_file_follows_the_compose_specification(
    stage: str, raw: dict[str, Any], compose: dict[str, Any]
) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(raw if stage == "as written" else compose), key=str)
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)


def test_the_stack_has_its_parts(compose: dict[str, Any]) -> None:
    names = set(services(compose))
    assert {"kafka", "clickhouse", "grafana", "db-init", "worker", "console"} <= names
    assert dict(claimwatch_services(compose)).keys() >= {"db-init", "worker", "console", "ingest", "cli"}


def test_images_are_pinned_to_a_version(compose: dict[str, Any]) -> None:
    for name, service in services(compose).items():
        image = str(service["image"])
        repository, _, tag = image.rpartition(":")
        assert repository, f"{name}: {image} names no tag"
        assert "/" not in tag, f"{name}: {image} names no tag"
        assert tag != "latest", name
        assert re.match(r"^\d+(\.\d+)+$", tag), f"{name}: {image} is not a version tag"
    for name, repository in EXTERNAL_IMAGES.items():
        assert str(services(compose)[name]["image"]).startswith(repository + ":")


def test_the_claimwatch_image_is_built_here_and_tagged_with_the_release(compose: dict[str, Any]) -> None:
    for name, service in claimwatch_services(compose):
        assert service["image"] == f"{CLAIMWATCH_IMAGE}:{pipeline.__version__}", name
        assert service.get("build") == ".", name


def test_promised_health_checks_exist(compose: dict[str, Any]) -> None:
    for name in HEALTHCHECKED:
        check = services(compose)[name].get("healthcheck")
        assert check, f"{name} has no health check"
        assert check.get("test"), f"{name} has no health check"
        assert not check.get("disable"), f"{name}'s health check is disabled"
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name


def test_every_dependency_condition_can_be_met(compose: dict[str, Any]) -> None:
    all_services = services(compose)
    for name, service in all_services.items():
        for target, spec in (service.get("depends_on") or {}).items():
            assert target in all_services, f"{name} depends on unknown service {target}"
            condition = spec["condition"]
            if condition == "service_healthy":
                assert all_services[target].get("healthcheck"), f"{name} waits for {target}'s health"
            if condition == "service_completed_successfully":
                assert all_services[target].get("restart") == "no", f"{target} must be one-shot"


def test_start_order(compose: dict[str, Any]) -> None:
    def condition(service: str, target: str) -> str:
        return str(services(compose)[service]["depends_on"][target]["condition"])

    assert condition("db-init", "clickhouse") == "service_healthy"
    assert condition("worker", "kafka") == "service_healthy"
    for service in ("worker", "console", "ingest", "cli"):
        assert condition(service, "db-init") == "service_completed_successfully"


def test_named_volumes_are_declared_and_bind_mounts_exist(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    used = set()
    for name, service in services(compose).items():
        for volume in service.get("volumes") or []:
            source = volume.split(":")[0] if isinstance(volume, str) else volume["source"]
            if source.startswith((".", "/")):
                assert source in OPERATOR_MADE or (ROOT / source).exists(), f"{name}: {source} missing"
            else:
                assert source in declared, f"{name}: volume {source} is not declared"
                used.add(source)
    assert used == declared, f"declared but unused: {declared - used}"


def test_the_audio_archive_is_shared_by_ingest_and_the_console(compose: dict[str, Any]) -> None:
    audio_dir = str(Settings(data_dir=Path("/var/lib/claimwatch")).audio_dir)
    for name in ("ingest", "console", "cli"):
        mounts = [str(v) for v in services(compose)[name]["volumes"]]
        assert any(m.startswith(f"audio:{audio_dir}") for m in mounts), name
    assert f"audio:{audio_dir}" in services(compose)["ingest"]["volumes"], "ingest must write the archive"


# ---------------------------------------------------------------------------------------------
# Commands and settings


def resolve(args: list[str]) -> tuple[click.Command, list[str]]:
    """The CLI command ``claimwatch ARGS`` runs, and the arguments left for it."""
    command: click.Command = main
    rest = list(args)
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        found = command.get_command(click.Context(command), rest[0])
        assert found is not None, f"`claimwatch {' '.join(args)}`: no command {rest[0]!r}"
        command, rest = found, rest[1:]
    return command, rest


def check_options(command: click.Command, rest: list[str], where: str) -> None:
    known = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    known |= {"--help", "-h"}
    for token in rest:
        if token.startswith("--"):
            assert token.split("=")[0] in known, f"{where}: {command.name} has no option {token}"


def service_argv(service: Mapping[str, Any]) -> list[str]:
    entrypoint = list(service.get("entrypoint") or ["claimwatch"])
    assert entrypoint[0] == "claimwatch"
    return [*entrypoint[1:], *list(service.get("command") or [])]


def test_every_command_the_stack_runs_exists(compose: dict[str, Any]) -> None:
    for name, service in claimwatch_services(compose):
        command, rest = resolve(service_argv(service))
        check_options(command, rest, f"service {name}")


def deploy_doc_commands() -> Iterator[list[str]]:
    """``claimwatch …`` command lines in docs/deploy.md, whether run directly or in a container."""
    text = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    for block in re.findall(r"```(?:console|bash|sh)\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line.lstrip("$ ").split("#")[0]) if line.strip() else []
            if "run" in words and ("cli" in words or "ingest" in words):
                at = max(i for i, w in enumerate(words) if w in ("cli", "ingest"))
                yield (["ingest"] if words[at] == "ingest" else []) + words[at + 1 :]
            elif "exec" in words and "claimwatch" in words:
                yield words[words.index("claimwatch") + 1 :]


def test_every_command_in_the_deploy_guide_exists() -> None:
    lines = list(deploy_doc_commands())
    assert len(lines) >= 5, "docs/deploy.md shows the ClaimWatch commands of a first deployment"
    for args in lines:
        command, rest = resolve(args)
        assert not isinstance(command, click.Group) or "--help" in rest, f"incomplete: {args}"
        check_options(command, rest, "docs/deploy.md")


def test_every_claimwatch_variable_is_a_setting(raw: dict[str, Any], example_env: dict[str, str]) -> None:
    fields = {f"CLAIMWATCH_{name.upper()}" for name in Settings.model_fields}
    text = COMPOSE.read_text(encoding="utf-8")
    named = set(re.findall(r"\bCLAIMWATCH_[A-Z0-9_]+", text)) | {
        k for k in example_env if k.startswith("CLAIMWATCH_")
    }
    assert named, "the stack configures ClaimWatch through CLAIMWATCH_* variables"
    assert named <= fields, f"not settings: {sorted(named - fields)}"


def test_each_service_environment_loads_as_settings(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, service in claimwatch_services(compose):
        env = environment(service)
        with monkeypatch.context() as patch:
            for key, value in env.items():
                patch.setenv(key, value)
            settings = load_settings()
        assert settings.warehouse == "server", f"{name}: several processes need clickhouse-server"
        assert settings.broker_url == "kafka:9092", name
        assert settings.clickhouse_password.get_secret_value() == env["CLAIMWATCH_CLICKHOUSE_PASSWORD"]
    console = load_settings(
        **{k[11:].lower(): v for k, v in environment(services(compose)["console"]).items()}
    )
    assert console.console_host == "0.0.0.0"


def test_secrets_come_from_the_ignored_env_file(raw: dict[str, Any], example_env: dict[str, str]) -> None:
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", COMPOSE.read_text(encoding="utf-8")))
    assert {
        "CLAIMWATCH_CLICKHOUSE_PASSWORD",
        "CLICKHOUSE_GRAFANA_PASSWORD",
        "GRAFANA_ADMIN_PASSWORD",
    } <= required
    assert required <= example_env.keys(), f".env.example lacks {required - example_env.keys()}"
    assert "/.env" in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    for name, service in services(raw).items():
        for key, value in environment(service).items():
            if "PASSWORD" in key:
                assert value.startswith("${") or value.startswith("$$"), f"{name}: {key} is written in"


# ---------------------------------------------------------------------------------------------
# Grafana and ClickHouse provisioning


def mount_source(service: Mapping[str, Any], target: str) -> Path:
    for volume in service.get("volumes") or []:
        parts = str(volume).split(":")
        if parts[1] == target:
            return ROOT / parts[0]
    raise AssertionError(f"nothing is mounted at {target}")


def provisioning(compose: Mapping[str, Any], kind: str) -> list[dict[str, Any]]:
    root = mount_source(services(compose)["grafana"], "/etc/grafana/provisioning") / kind
    files = sorted(root.glob("*.yaml"))
    assert files, f"no {kind} provisioning files in {root}"
    return [yaml.safe_load(f.read_text(encoding="utf-8")) for f in files]


def test_grafana_provisions_the_clickhouse_datasource(compose: dict[str, Any]) -> None:
    grafana = services(compose)["grafana"]
    (config,) = provisioning(compose, "datasources")
    (source,) = config["datasources"]
    plugin, _, version = environment(grafana)["GF_PLUGINS_PREINSTALL_SYNC"].partition("@")
    assert source["type"] == plugin == "grafana-clickhouse-datasource"
    assert re.match(r"^\d+\.\d+\.\d+$", version), "the plugin is pinned to a version"
    assert source["jsonData"]["host"] == "clickhouse"
    assert source["jsonData"]["protocol"] == "native"
    text = json.dumps(source)
    for name in re.findall(r"\$\{?([A-Z_][A-Z0-9_]*)", text):
        assert name in environment(grafana), f"the datasource reads ${name}, grafana's environment lacks it"


def test_grafana_provisions_the_dashboards_that_exist(compose: dict[str, Any]) -> None:
    grafana = services(compose)["grafana"]
    (config,) = provisioning(compose, "dashboards")
    (provider,) = config["providers"]
    folder = mount_source(grafana, provider["options"]["path"])
    dashboards = sorted(folder.glob("*.json"))
    assert folder == ROOT / "dashboards"
    assert dashboards
    for path in dashboards:
        board = json.loads(path.read_text(encoding="utf-8"))
        variables = {v["name"]: v for v in board["templating"]["list"]}
        assert variables["DS_CLICKHOUSE"]["type"] == "datasource", f"{path.name}: provisioning needs it"
        assert variables["DS_CLICKHOUSE"]["query"] == "grafana-clickhouse-datasource"
        kinds = set(re.findall(r'"type": "([a-z-]+-datasource)"', path.read_text(encoding="utf-8")))
        assert kinds == {"grafana-clickhouse-datasource"}, path.name


def warehouse_tables() -> set[str]:
    sql = " ".join(
        p.read_text(encoding="utf-8") for p in (ROOT / "pipeline/warehouse/migrations").glob("*.sql")
    )
    return set(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", sql))


def test_grafanas_clickhouse_user_reads_what_the_dashboards_query(compose: dict[str, Any]) -> None:
    initdb = mount_source(services(compose)["clickhouse"], "/docker-entrypoint-initdb.d")
    (script,) = sorted(initdb.glob("*.sh"))
    assert os.access(script, os.X_OK), f"{script.name} must be executable (the image runs it)"
    loop = re.search(r"for table in ([\w ]+);", script.read_text(encoding="utf-8"))
    assert loop, f"{script.name}: no `for table in ...;` loop of grants"
    granted = set(loop.group(1).split())
    queried = set()
    for path in (ROOT / "dashboards").glob("*.json"):
        queried |= set(re.findall(r"\bFROM (\w+)", path.read_text(encoding="utf-8")))
    assert queried <= granted <= warehouse_tables()
    assert not granted & {"users", "sessions", "audit_log"}, "Grafana must not read logins or the audit log"


# ---------------------------------------------------------------------------------------------
# The image


def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text(encoding="utf-8")


def test_dockerfile_base_is_pinned_and_the_process_is_not_root() -> None:
    text = dockerfile()
    (base,) = re.findall(r"^FROM (\S+)", text, re.M)
    assert re.match(r"^python:3\.11\.\d+-slim-bookworm$", base), base
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users, "the image must end as an unprivileged user"
    assert users[-1] not in ("root", "0"), "the image must end as an unprivileged user"
    assert re.search(r'^ENTRYPOINT \["claimwatch"\]', text, re.M)


def test_dockerfile_copies_only_what_exists_and_the_build_context_holds_it() -> None:
    ignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    kept = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for sources in re.findall(r"^COPY (.+) \S+$", dockerfile(), re.M):
        for source in sources.split():
            assert (ROOT / source).exists(), f"COPY {source}: no such path"
            assert any(source == k or source.startswith(k + "/") for k in kept), (
                f".dockerignore drops {source}"
            )


def test_constraints_agree_with_the_pinned_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    constraints = {}
    for line in (ROOT / "deploy" / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            constraints[re.sub(r"[-_.]+", "-", name).lower()] = version
    for requirement in project["dependencies"]:
        name, _, version = requirement.partition("==")
        key = re.sub(r"[-_.]+", "-", name).lower()
        assert constraints.get(key) == version, (
            f"{requirement}: deploy/constraints.txt has {constraints.get(key)}"
        )


# ---------------------------------------------------------------------------------------------
# The cluster profile

TOPOLOGY_DIR = ROOT / "deploy" / "clickhouse" / "topology"
TOPOLOGY_MOUNT = "/etc/clickhouse-server/config.d/topology.xml"
CLUSTER_ENV = {
    "CLICKHOUSE_TOPOLOGY": "./deploy/clickhouse/topology/cluster.xml",
    "CLAIMWATCH_CLICKHOUSE_CLUSTER": tested_cluster.CLUSTER,
}


@pytest.fixture(scope="module")
def cluster_compose(raw: dict[str, Any], example_env: dict[str, str]) -> dict[str, Any]:
    """The compose document with the cluster profile's two .env lines uncommented."""
    result: dict[str, Any] = filled(raw, {**example_env, **CLUSTER_ENV})
    return result


def xml(path: Path) -> ET.Element:
    return ET.parse(path).getroot()


def test_the_cluster_lines_of_env_example_are_the_ones_this_test_turns_on() -> None:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    for name, value in CLUSTER_ENV.items():
        assert f"# {name}={value}" in text.splitlines()


def test_the_cluster_profile_follows_the_specification_and_loads(
    compose: dict[str, Any], cluster_compose: dict[str, Any]
) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(cluster_compose))
    assert not errors, errors[0].message
    for name, service in claimwatch_services(cluster_compose):
        values = {k.removeprefix("CLAIMWATCH_").lower(): v for k, v in environment(service).items()}
        assert load_settings(**values).clickhouse_cluster == tested_cluster.CLUSTER, name
    mounted = mount_source(services(cluster_compose)["clickhouse"], TOPOLOGY_MOUNT)
    assert mounted == TOPOLOGY_DIR / "cluster.xml"
    assert mount_source(services(compose)["clickhouse"], TOPOLOGY_MOUNT) == TOPOLOGY_DIR / "single.xml"


def test_the_cluster_profile_is_the_tested_topology(cluster_compose: dict[str, Any]) -> None:
    all_services = services(cluster_compose)
    (cluster,) = xml(TOPOLOGY_DIR / "cluster.xml").find("remote_servers")  # type: ignore[misc]
    assert cluster.tag == tested_cluster.CLUSTER
    shards = cluster.findall("shard")
    assert len(shards) == tested_cluster.SHARDS
    for s, shard in enumerate(shards, 1):
        assert shard.findtext("internal_replication") == "true", "replicated tables replicate themselves"
        replicas = shard.findall("replica")
        assert len(replicas) == tested_cluster.REPLICAS
        for r, replica in enumerate(replicas, 1):
            host = replica.findtext("host")
            assert host in all_services, f"remote_servers names {host}, which compose does not run"
            node = all_services[host]
            env = environment(node)
            assert (int(env["CLICKHOUSE_SHARD"]), env["CLICKHOUSE_REPLICA"]) == (s, f"s{s}r{r}"), host
            assert env["CLICKHOUSE_INTERSERVER_HOST"] == node["hostname"] == host
            assert node["image"] == all_services["clickhouse"]["image"], "one ClickHouse version"
            assert mount_source(node, TOPOLOGY_MOUNT) == TOPOLOGY_DIR / "cluster.xml"
            assert node["healthcheck"]["test"]
            if host != "clickhouse":  # the entry node runs with or without the profile
                assert node["profiles"] == ["cluster"]
                assert node["depends_on"]["keeper"]["condition"] == "service_healthy"
                db_init = all_services["db-init"]["depends_on"][host]
                assert db_init == {"condition": "service_healthy", "required": False}


def test_the_nodes_find_keeper_and_read_their_place_from_their_environment(
    cluster_compose: dict[str, Any],
) -> None:
    topology = xml(TOPOLOGY_DIR / "cluster.xml")
    keeper = services(cluster_compose)["keeper"]
    assert keeper["profiles"] == ["cluster"]
    assert keeper["healthcheck"]["test"]
    config = xml(mount_source(keeper, "/etc/clickhouse-keeper/keeper.xml"))
    port = config.findtext("keeper_server/tcp_port")
    (node,) = topology.findall("zookeeper/node")
    assert (node.findtext("host"), node.findtext("port")) == (keeper["hostname"], port)
    (raft,) = config.findall("keeper_server/raft_configuration/server")
    assert raft.findtext("hostname") == keeper["hostname"]
    macros = {m.tag: m.get("from_env") for m in topology.find("macros")}  # type: ignore[union-attr]
    assert macros == {"shard": "CLICKHOUSE_SHARD", "replica": "CLICKHOUSE_REPLICA"}
    assert topology.find("interserver_http_host").get("from_env") == "CLICKHOUSE_INTERSERVER_HOST"  # type: ignore[union-attr]
    assert xml(TOPOLOGY_DIR / "single.xml").tag == "clickhouse"
