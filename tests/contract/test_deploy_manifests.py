"""The container builds and Kubernetes manifests under deploy/, checked offline against the code they deploy.

Overlays are rendered by a small kustomize subset below (resources, namespace, images, strategic-merge and
JSON 6902 patches); when `kubectl` is installed the rendering is compared with `kubectl kustomize`.
Every object is validated against the Kubernetes JSON schemas bundled in `kubernetes-validate`, and every
Deployment against its service: probe paths served, every setting it needs provided, secrets only from Secrets.
"""

from __future__ import annotations

import copy
import functools
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import kubernetes_validate
import pytest
import yaml
from pydantic import AliasChoices, SecretStr
from pydantic.fields import FieldInfo
from starlette.routing import Match

from chartwise_devtools.docs import build_service_app, service_names, settings_class

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
DOCKERFILE = DEPLOY / "Dockerfile"
OPERATIONS = REPO / "docs" / "operations.md"
KUBERNETES_VERSION = "1.32"

SERVICES = service_names(REPO)
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if (p / "kustomization.yaml").is_file())

# Settings a pod must be given explicitly: their defaults (localhost, hostname-pid) are wrong in a cluster.
CLUSTER_REQUIRED = ("environment", "redis_url", "mongo_url", "http_host", "consumer_name")
# Ports a service may open to anything; the rest of its traffic goes to Redis, MongoDB and DNS only.
BACKING_PORTS = {53, 6379, 6380, 27017}
EXTERNAL_HTTPS = {"analysis": "vision model and image store", "usage": "Stripe"}
EDGE = "gateway"

Obj = dict[str, Any]


# --- a kustomize subset ---------------------------------------------------------------------------------

_KUSTOMIZATION_FIELDS = {"apiVersion", "kind", "namespace", "resources", "patches", "images"}
_MERGE_KEYS = {"containers": "name", "initContainers": "name", "env": "name", "volumes": "name"}
_CLUSTER_SCOPED = {"Namespace"}


def render(directory: Path) -> list[Obj]:
    """The objects `kustomize build directory` yields, for the features our kustomizations use."""
    spec = _load_one(directory / "kustomization.yaml")
    unknown = set(spec) - _KUSTOMIZATION_FIELDS
    if unknown:
        raise ValueError(f"{directory}: kustomization fields this renderer does not implement: {sorted(unknown)}")
    objects: list[Obj] = []
    for entry in spec.get("resources", []):
        path = directory / entry
        if path.is_dir():
            objects += render(path)
        elif path.is_file():
            objects += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
        else:
            raise FileNotFoundError(f"{directory}/kustomization.yaml lists {entry}, which does not exist")
    for patch in spec.get("patches", []):
        _apply_patch(objects, patch, directory)
    if "namespace" in spec:
        for obj in objects:
            if obj["kind"] not in _CLUSTER_SCOPED:
                obj["metadata"]["namespace"] = spec["namespace"]
    for image in spec.get("images", []):
        _set_image(objects, image)
    return objects


def _load_one(path: Path) -> Obj:
    loaded: Obj = yaml.safe_load(path.read_text())
    return loaded


def _apply_patch(objects: list[Obj], patch: Obj, directory: Path) -> None:
    if "path" in patch:
        for doc in yaml.safe_load_all((directory / patch["path"]).read_text()):
            target = _only(objects, doc["kind"], doc["metadata"]["name"])
            merged = _strategic_merge(target, doc)
            target.clear()
            target.update(merged)
        return
    selector = patch["target"]
    targets = [
        o
        for o in objects
        if o["kind"] == selector["kind"] and selector.get("name", o["metadata"]["name"]) == o["metadata"]["name"]
    ]
    if not targets:
        raise ValueError(f"patch target {selector} matches nothing")
    for target in targets:
        for op in yaml.safe_load(patch["patch"]):
            _json_patch(target, op)


def _only(objects: list[Obj], kind: str, name: str) -> Obj:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    if len(found) != 1:
        raise ValueError(f"a patch must match exactly one {kind}/{name}, matched {len(found)}")
    return found[0]


def _strategic_merge(base: Any, patch: Any, key: str = "") -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for name, value in patch.items():
            merged[name] = _strategic_merge(base[name], value, name) if name in base else copy.deepcopy(value)
        return merged
    if isinstance(base, list) and isinstance(patch, list) and key in _MERGE_KEYS:
        merge_key = _MERGE_KEYS[key]
        merged_list = [copy.deepcopy(item) for item in base]
        added = []
        for item in patch:
            index = next((i for i, b in enumerate(merged_list) if b.get(merge_key) == item.get(merge_key)), None)
            if index is None:
                added.append(copy.deepcopy(item))
            else:
                merged_list[index] = _strategic_merge(merged_list[index], item)
        # kustomize puts the patch's new entries before the base's, in the patch's order.
        return added + merged_list
    return copy.deepcopy(patch)


def _json_patch(document: Obj, op: Obj) -> None:
    *parents, last = [part.replace("~1", "/").replace("~0", "~") for part in op["path"].split("/")[1:]]
    node: Any = document
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if op["op"] in ("add", "replace"):
        if isinstance(node, list):
            if last == "-":
                node.append(copy.deepcopy(op["value"]))
            elif op["op"] == "add":
                node.insert(int(last), copy.deepcopy(op["value"]))
            else:
                node[int(last)] = copy.deepcopy(op["value"])
        else:
            if op["op"] == "replace" and last not in node:
                raise KeyError(f"replace of a missing path {op['path']}")
            node[last] = copy.deepcopy(op["value"])
    elif op["op"] == "remove":
        del node[int(last) if isinstance(node, list) else last]
    else:
        raise ValueError(f"JSON patch op {op['op']} is not implemented here")


def _set_image(objects: list[Obj], image: Obj) -> None:
    for obj in objects:
        for container in _containers(obj):
            name, _, tag = container["image"].partition(":")
            if name == image["name"]:
                container["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag or 'latest')}"


def _containers(obj: Obj) -> list[Obj]:
    pod = obj.get("spec", {}).get("template", {}).get("spec", {})
    containers: list[Obj] = [*pod.get("initContainers", []), *pod.get("containers", [])]
    return containers


@functools.cache
def rendered(overlay: str) -> tuple[Obj, ...]:
    return tuple(render(K8S / "overlays" / overlay))


def objects_of(overlay: str, kind: str) -> dict[str, Obj]:
    return {o["metadata"]["name"]: o for o in rendered(overlay) if o["kind"] == kind}


def test_renderer_applies_strategic_merge_by_name_and_json_patches() -> None:
    base = {"spec": {"containers": [{"name": "a", "env": [{"name": "X", "value": "1"}], "ports": [1]}]}}
    patch = {"spec": {"containers": [{"name": "a", "env": [{"name": "Y", "value": "2"}], "ports": [2]}]}}
    merged = _strategic_merge(base, patch)
    assert merged["spec"]["containers"][0]["env"] == [{"name": "Y", "value": "2"}, {"name": "X", "value": "1"}]
    assert merged["spec"]["containers"][0]["ports"] == [2]
    _json_patch(merged, {"op": "add", "path": "/spec/containers/0/env/-", "value": {"name": "Z"}})
    _json_patch(merged, {"op": "replace", "path": "/spec/containers/0/ports/0", "value": 3})
    assert [e["name"] for e in merged["spec"]["containers"][0]["env"]] == ["Y", "X", "Z"]
    assert merged["spec"]["containers"][0]["ports"] == [3]
    with pytest.raises(KeyError):
        _json_patch(merged, {"op": "replace", "path": "/spec/missing", "value": 1})


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rendering_matches_kubectl_kustomize(overlay: str) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed; the overlays are still rendered by the subset above")
    output = subprocess.run(
        [kubectl, "kustomize", str(K8S / "overlays" / overlay)], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    theirs = sorted((doc for doc in yaml.safe_load_all(output) if doc), key=_identity)
    ours = sorted(rendered(overlay), key=_identity)
    assert [_identity(o) for o in ours] == [_identity(o) for o in theirs]
    for mine, real in zip(ours, theirs, strict=True):
        assert mine == real, f"{_identity(mine)} renders differently from kubectl kustomize"


def _identity(obj: Obj) -> tuple[str, str, str]:
    return obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


# --- every object is a valid Kubernetes object ----------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_matches_the_kubernetes_schema(overlay: str) -> None:
    problems = []
    for obj in rendered(overlay):
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            problems.append(f"{_identity(obj)}: {error.message} at {list(error.path)}")
    assert problems == []


def test_the_schema_validation_rejects_a_misspelt_field() -> None:
    deployment = copy.deepcopy(objects_of(OVERLAYS[0], "Deployment")[SERVICES[0]])
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_the_repository_holds_no_secret_objects() -> None:
    for path in DEPLOY.rglob("*.yaml"):
        kinds = [doc.get("kind") for doc in yaml.safe_load_all(path.read_text()) if isinstance(doc, dict)]
        assert "Secret" not in kinds, f"{path} holds a Secret; secrets are created at deploy time, never committed"


# --- each service has its objects ---------------------------------------------------------------------


def test_the_base_deploys_every_service_of_the_workspace() -> None:
    base = _load_one(K8S / "base" / "kustomization.yaml")
    assert sorted(r for r in base["resources"] if (K8S / "base" / r).is_dir()) == SERVICES


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("service", SERVICES)
def test_each_service_has_its_deployment_objects(overlay: str, service: str) -> None:
    deployment = objects_of(overlay, "Deployment")[service]
    pod = deployment["spec"]["template"]
    labels = pod["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()

    account = objects_of(overlay, "ServiceAccount")[service]
    assert account["automountServiceAccountToken"] is False
    assert pod["spec"]["serviceAccountName"] == service
    assert pod["spec"]["automountServiceAccountToken"] is False

    hpa = objects_of(overlay, "HorizontalPodAutoscaler")[service]
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": service}
    assert "replicas" not in deployment["spec"], "replicas belong to the HorizontalPodAutoscaler"

    pdb = objects_of(overlay, "PodDisruptionBudget")[service]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()

    service_obj = objects_of(overlay, "Service")[service]
    assert service_obj["spec"]["selector"].items() <= labels.items()
    assert {p["targetPort"] for p in service_obj["spec"]["ports"]} == {"http"}

    assert f"chartwise-{service}" in objects_of(overlay, "ConfigMap")
    assert any(_selects(policy, labels) for policy in objects_of(overlay, "NetworkPolicy").values())

    container = _main_container(deployment)
    assert container["resources"]["requests"]
    assert container["resources"]["limits"]
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False


def _main_container(deployment: Obj) -> Obj:
    container: Obj = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["name"] == deployment["metadata"]["name"]
    return container


def _selects(policy: Obj, labels: dict[str, str]) -> bool:
    wanted = policy["spec"]["podSelector"].get("matchLabels", {})
    return bool(wanted) and wanted.items() <= labels.items()


# --- probes, env and shutdown agree with the code -----------------------------------------------------


@functools.cache
def _app(service: str) -> Any:
    return build_service_app(service)


def _serves_get(app: Any, path: str) -> bool:
    scope = {"type": "http", "method": "GET", "path": path, "root_path": "", "headers": [], "query_string": b""}
    for route in getattr(app, "routes", []):
        if isinstance(route, tuple):  # FastStream's ASGI app keeps (path, handler) pairs
            if route[0] == path:
                return True
        elif route.matches(scope)[0] is Match.FULL:
            return True
    return False


def test_route_lookup_finds_health_paths_and_not_invented_ones() -> None:
    for service in SERVICES:
        assert _serves_get(_app(service), "/healthz"), service
        assert not _serves_get(_app(service), "/no-such-probe-path"), service


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("service", SERVICES)
def test_probes_hit_paths_the_service_serves(overlay: str, service: str) -> None:
    container = _main_container(objects_of(overlay, "Deployment")[service])
    probes = {
        kind: container[kind] for kind in ("startupProbe", "livenessProbe", "readinessProbe") if kind in container
    }
    assert {"livenessProbe", "readinessProbe"} <= probes.keys()
    assert container["readinessProbe"]["httpGet"]["path"] != container["livenessProbe"]["httpGet"]["path"], (
        "readiness checks dependencies; liveness must not, or a Redis outage restarts every pod"
    )
    for kind, probe in probes.items():
        assert probe["httpGet"]["port"] == "http", kind
        assert _serves_get(_app(service), probe["httpGet"]["path"]), f"{service} does not serve {kind} path"


def env_names(name: str, field: FieldInfo) -> set[str]:
    """The environment variable names a Settings field is read from (pydantic-settings ignores case)."""
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return {choice.upper() for choice in alias.choices if isinstance(choice, str)}
    if isinstance(alias, str):
        return {alias.upper()}
    return {name.upper()}


def is_secret(field: FieldInfo) -> bool:
    return field.annotation is SecretStr or SecretStr in get_args(field.annotation)


def pod_env(overlay: str, deployment: Obj) -> dict[str, Obj]:
    """Each variable the container gets, as an env entry; ConfigMap keys from envFrom become `value` entries."""
    container = _main_container(deployment)
    config_maps = objects_of(overlay, "ConfigMap")
    resolved: dict[str, Obj] = {}
    for source in container.get("envFrom", []):
        assert "secretRef" not in source, "take secrets key by key (secretKeyRef), so each one is documented"
        name = source["configMapRef"]["name"]
        assert name in config_maps, f"envFrom names ConfigMap {name}, which the overlay does not define"
        for key, value in config_maps[name].get("data", {}).items():
            resolved[key.upper()] = {"name": key, "value": value}
    for entry in container.get("env", []):
        resolved[entry["name"].upper()] = entry
    return resolved


def _fields(service: str) -> dict[str, FieldInfo]:
    return dict(settings_class(service).model_fields)


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("service", SERVICES)
def test_every_setting_the_service_needs_is_provided(overlay: str, service: str) -> None:
    env = pod_env(overlay, objects_of(overlay, "Deployment")[service])
    fields = _fields(service)
    known = set().union(*(env_names(n, f) for n, f in fields.items()))
    assert sorted(set(env) - known) == [], "variables the service's Settings do not read (misspelt?)"
    for name, field in fields.items():
        provided = env_names(name, field) & env.keys()
        if field.is_required() or name in CLUSTER_REQUIRED:
            assert provided, f"{service} needs one of {sorted(env_names(name, field))} in {overlay}"
    consumer = env["CONSUMER_NAME"]
    assert consumer.get("valueFrom") == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["HTTP_HOST"].get("value") == "0.0.0.0"


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("service", SERVICES)
def test_secrets_come_only_from_secrets(overlay: str, service: str) -> None:
    env = pod_env(overlay, objects_of(overlay, "Deployment")[service])
    settings = _settings_in_pod(overlay, service)
    for name, field in _fields(service).items():
        if not is_secret(field):
            continue
        provided = [env[n] for n in env_names(name, field) & env.keys()]
        for entry in provided:
            assert "secretKeyRef" in entry.get("valueFrom", {}), f"{entry['name']} must come from a Secret"
            assert not entry["valueFrom"]["secretKeyRef"].get("optional", False), f"{entry['name']} is optional"
        if not settings.is_development:
            assert provided, f"{service} in {overlay} runs without {sorted(env_names(name, field))}"
    for url in ("REDIS_URL", "MONGO_URL"):
        if not settings.is_development:
            assert "secretKeyRef" in env[url].get("valueFrom", {}), f"{url} carries credentials in {overlay}"


def _settings_in_pod(overlay: str, service: str) -> Any:
    """The service's Settings as the pod would build them; Secret values stand in as real-looking strings."""
    values: dict[str, str] = {}
    for name, entry in pod_env(overlay, objects_of(overlay, "Deployment")[service]).items():
        source = entry.get("valueFrom", {})
        if "secretKeyRef" in source:
            values[name] = f"from-secret-{source['secretKeyRef']['key']}"
        elif "fieldRef" in source:
            values[name] = f"{service}-7c9d-pod"
        else:
            values[name] = str(entry["value"])
    return settings_class(service).model_validate(_by_field(service, values))


def _by_field(service: str, values: dict[str, str]) -> dict[str, str]:
    by_field = {}
    for name, field in _fields(service).items():
        for env_name in env_names(name, field):
            if env_name in values:
                by_field[name] = values[env_name]
    return by_field


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("service", SERVICES)
def test_pod_settings_load_and_match_the_container(overlay: str, service: str) -> None:
    deployment = objects_of(overlay, "Deployment")[service]
    settings = _settings_in_pod(overlay, service)
    container = _main_container(deployment)
    (port,) = [p for p in container["ports"] if p["name"] == "http"]
    assert port["containerPort"] == settings.http_port
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > pre_stop + settings.shutdown_timeout_s, "SIGKILL would cut the drain short"
    expected = "development" if overlay == "dev" else "production"
    assert settings.environment.value == expected


def test_the_pod_settings_check_notices_a_wrong_value() -> None:
    overlay, service = OVERLAYS[0], SERVICES[0]
    deployment = copy.deepcopy(objects_of(overlay, "Deployment")[service])
    _main_container(deployment)["env"].append({"name": "SHUTDOWN_TIMEOUT_S", "value": "not-a-number"})
    env = pod_env(overlay, deployment)
    values = {k: str(v["value"]) for k, v in env.items() if "value" in v}
    with pytest.raises(ValueError, match="shutdown_timeout_s"):
        settings_class(service).model_validate(_by_field(service, values))


def documented_secrets() -> set[tuple[str, str]]:
    """(Secret, key) pairs from the secrets table of docs/operations.md: rows of `| \\`name\\` | \\`key\\` | ...`."""
    row = re.compile(r"^\|\s*`([a-z0-9-]+)`\s*\|\s*`([A-Za-z0-9_.-]+)`\s*\|", re.MULTILINE)
    return set(row.findall(OPERATIONS.read_text()))


def secret_refs(overlay: str) -> Iterator[tuple[str, str]]:
    for deployment in objects_of(overlay, "Deployment").values():
        for container in _containers(deployment):
            for entry in container.get("env", []):
                ref = entry.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    yield ref["name"], ref["key"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_secret_referenced_is_documented(overlay: str) -> None:
    missing = sorted(set(secret_refs(overlay)) - documented_secrets())
    assert missing == [], "document these Secret keys in docs/operations.md"


# --- network, scaling, backing services per overlay ---------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_edge_takes_traffic_from_outside(overlay: str) -> None:
    policies = objects_of(overlay, "NetworkPolicy")
    deny = policies["default-deny"]["spec"]
    assert deny["podSelector"] == {}
    assert set(deny["policyTypes"]) == {"Ingress", "Egress"}
    for service in SERVICES:
        labels = objects_of(overlay, "Deployment")[service]["spec"]["template"]["metadata"]["labels"]
        for policy in (p for p in policies.values() if _selects(p, labels)):
            for rule in policy["spec"].get("ingress", []):
                if service == EDGE:
                    continue
                peers = rule.get("from")
                assert peers, f"{service}: an ingress rule without `from` admits everyone"
                for peer in peers:
                    assert "ipBlock" not in peer, f"{service}: admits an address range"
                    assert any(peer.get(k) for k in ("namespaceSelector", "podSelector")), f"{service}: empty peer"
            for rule in policy["spec"].get("egress", []):
                ports = {p["port"] for p in rule.get("ports", [])}
                assert ports, f"{service}: an egress rule without ports reaches anything"
                allowed = BACKING_PORTS | ({443} if service in EXTERNAL_HTTPS else set())
                assert ports <= allowed, f"{service}: egress to {sorted(ports - allowed)}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_images_come_from_the_overlay_with_a_tag(overlay: str) -> None:
    for service, deployment in objects_of(overlay, "Deployment").items():
        image = _main_container(deployment)["image"]
        name, _, tag = image.rpartition(":")
        assert name.endswith(f"/{service}") or name == f"chartwise/{service}", image
        assert tag not in ("", "latest"), f"{service}: image {image} is not pinned"


def test_dev_runs_one_replica_and_its_own_redis_and_mongo() -> None:
    for hpa in objects_of("dev", "HorizontalPodAutoscaler").values():
        assert hpa["spec"]["minReplicas"] == hpa["spec"]["maxReplicas"] == 1
    stateful = objects_of("dev", "StatefulSet")
    assert set(stateful) == {"redis", "mongo"}
    assert "--appendonly" in _containers(stateful["redis"])[0]["args"]
    services = objects_of("dev", "Service")
    assert {"redis", "mongo"} <= services.keys()
    common = objects_of("dev", "ConfigMap")["chartwise-common"]["data"]
    assert common["REDIS_URL"].startswith("redis://redis:")
    assert common["MONGO_URL"].startswith("mongodb://mongo:")


def test_prod_runs_replicas_and_uses_external_redis_and_mongo() -> None:
    for name, hpa in objects_of("prod", "HorizontalPodAutoscaler").items():
        assert hpa["spec"]["minReplicas"] >= 2, f"{name} would run a single replica"
        assert hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
    for name, pdb in objects_of("prod", "PodDisruptionBudget").items():
        assert pdb["spec"].get("maxUnavailable") == 1 or pdb["spec"].get("minAvailable", 0) >= 1, name
    assert objects_of("prod", "StatefulSet") == {}
    common = objects_of("prod", "ConfigMap")["chartwise-common"]["data"]
    assert "REDIS_URL" not in common
    assert "MONGO_URL" not in common


# --- the container build --------------------------------------------------------------------------------


def dockerfile_stages() -> dict[str, list[tuple[str, str]]]:
    """Instructions of each stage by stage name, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    stages: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            match = re.fullmatch(r"(\S+)\s+AS\s+(\S+)", rest, flags=re.IGNORECASE)
            assert match, f"every stage is named: {line}"
            current = stages.setdefault(match.group(2), [("FROM", match.group(1))])
        elif current is not None:
            current.append((instruction, rest))
    return stages


def _workspace_members() -> list[str]:
    return ["contracts", "runtime", "devtools", *(f"services/{s}" for s in SERVICES)]


def test_the_builder_copies_every_member_pyproject_before_any_source() -> None:
    builder = dockerfile_stages()["builder"]
    copies = [rest for instruction, rest in builder if instruction == "COPY"]
    assert copies[0].startswith("--from=ghcr.io/astral-sh/uv:")
    assert copies[1].split()[:2] == ["uv.lock", "pyproject.toml"]
    copied = {rest.split()[0].removesuffix("/pyproject.toml") for rest in copies[2:]}
    assert copied == set(_workspace_members()), "uv needs every member's pyproject.toml to find the workspace"


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_image_installs_only_its_member_and_runs_unprivileged(service: str) -> None:
    stages = dockerfile_stages()
    build = stages[f"build-{service}"]
    assert build[0] == ("FROM", "builder")
    runs = [(i, rest) for i, (instruction, rest) in enumerate(build) if instruction == "RUN"]
    sources = [i for i, (instruction, rest) in enumerate(build) if instruction == "COPY" and "/src " in rest]
    assert len(runs) == 2, "a dependency layer, then the sources, then the members"
    assert sources
    (deps_at, deps), (members_at, members) = runs
    for command in (deps, members):
        assert f"uv sync --frozen --no-dev --no-editable --package chartwise-{service}" in command
    assert "--no-install-workspace" in deps
    assert "--no-install-workspace" not in members
    assert deps_at < min(sources)
    assert max(sources) < members_at
    copied = {build[i][1].split()[0] for i in sources}
    assert copied == {"contracts/src", "runtime/src", f"services/{service}/src"}

    final = stages[service]
    assert final[0] == ("FROM", "runtime")
    assert ("COPY", f"--from=build-{service} /app/.venv /app/.venv") in final
    users = [rest for instruction, rest in final if instruction == "USER"]
    assert users
    assert users[-1].split(":")[0] not in ("0", "root")
    entrypoints = [rest for instruction, rest in final if instruction == "ENTRYPOINT"]
    assert entrypoints == [f'["python", "-m", "chartwise_{service}"]'], "exec form, so python gets SIGTERM"
    exposed = {int(rest) for instruction, rest in final if instruction == "EXPOSE"}
    assert exposed == {settings_class(service)(environment="development").http_port}


def test_the_runtime_image_has_no_build_tools() -> None:
    runtime = dockerfile_stages()["runtime"]
    assert runtime[0] == ("FROM", "${PYTHON_IMAGE}")
    text = " ".join(rest for _, rest in runtime)
    for tool in ("gcc", "build-essential", "apt-get install", "/bin/uv", "pip install"):
        assert tool not in text, f"the runtime stage installs {tool}"
    assert ("STOPSIGNAL", "SIGTERM") in runtime


@pytest.mark.parametrize("service", SERVICES)
def test_the_lock_resolves_each_image_without_dev_tools_or_other_services(service: str) -> None:
    uv = shutil.which("uv")
    assert uv is not None, "uv builds the images and runs this suite"
    exported = subprocess.run(
        [uv, "export", "--frozen", "--no-dev", "--no-hashes", "--package", f"chartwise-{service}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    names = {re.split(r"[=<>\s;@]", line.strip(), maxsplit=1)[0].lower() for line in exported.splitlines()}
    names = {n for n in names if n and not n.startswith("#")}
    for tool in ("pytest", "ruff", "mypy", "chartwise-devtools", "testcontainers"):
        assert tool not in names, f"{service}'s image would install {tool}"
    others = {f"chartwise-{s}" for s in SERVICES if s != service}
    assert not names & others, f"{service}'s image would install another service"
