"""The Helm chart's workloads as podman pods: render, adapt what podman 4.3 cannot take, play.

`podman kube play` runs a rendered Deployment as a pod, with its command, args, `envFrom` a
ConfigMap, security contexts and `emptyDir` volumes as declared. What it cannot take, and what
is changed for it (nothing else is touched):

- Secrets: podman 4.3 plays no `kind: Secret`; a `secretKeyRef` reads a *podman* secret of the
  same name whose content is a JSON object of key -> base64 value (a Secret's `data` map, which
  Go decodes as []byte: plain text gives "not valid JSON", plain values "illegal base64"). So
  each rendered Secret (or each Secret a user would create for `existingSecret`) becomes a
  podman secret holding `json.dumps(secret["data"])`; the Deployments keep their references.
- Secret volumes: podman 4.3's `kube play` crashes on a `secret` volume (a nil pointer in
  VolumeFromSecret). Each becomes a `hostPath` directory holding the same items (key -> path)
  from the podman secret's data, with the volume's `defaultMode`, owned by the pod's `fsGroup`
  as the kubelet would make it; the mounts stay as rendered.
- Services, NetworkPolicies, ServiceAccounts, HPA, PDB, Ingress: no such objects in podman;
  they are left out. Reaching the API from outside its pod is a Service's job, so the API's
  `http` container port gets a `hostPort` on 127.0.0.1 (podman's only way to publish a port).
  Every other container port gets a free one too: podman 4.3 publishes a port that has no
  `hostPort` on the host's 0.0.0.0 at the container's own number (8081 was taken here).
  `replicas` becomes 1: podman 4.3 plays every replica as a pod bound to the same host ports.
- The `helm test` Pod reaches the API through the Service name; it gets the published address
  (10.0.2.2:<hostPort> from a slirp4netns pod) in API_URL instead, and loses its `checkov.io/`
  annotations (podman 4.3 wrongly refuses pod annotation values over 63 characters).
- Probes: podman turns a liveness probe into a healthcheck that runs `curl` (absent from the
  image) and never fires without systemd; the tests run every declared probe themselves.
- Ignored by podman 4.3: the `preStop` sleep action (not exercised) and
  `terminationGracePeriodSeconds`; and `podman kube down` stops with a 0 s timeout (SIGKILL right
  after SIGTERM: the API died 50 ms after it, before logging anything), and `podman pod stop`
  cuts the pod's network while its containers still shut down. So the tests stop the container
  with `podman stop --time <terminationGracePeriodSeconds>`, then `podman kube down` the pod.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.image.image_containers import podman
from tests.waiting import poll

Doc = dict[str, Any]

HOST_FROM_POD = "10.0.2.2"
NETWORK = "slirp4netns:allow_host_loopback=true"
PROBES = ("startupProbe", "livenessProbe", "readinessProbe")
# Run inside the container: one GET, like the kubelet's httpGet probe (2xx and 3xx pass).
PROBE_SCRIPT = """
import sys, urllib.error, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=float(sys.argv[2])) as response:
        status = response.status
except urllib.error.HTTPError as error:
    status = error.code
print(status)
sys.exit(0 if 200 <= status < 400 else 1)
"""


def find(docs: list[Doc], kind: str, component: str) -> Doc:
    (doc,) = [
        d
        for d in docs
        if d["kind"] == kind
        and d["metadata"]["labels"].get("app.kubernetes.io/component") == component
    ]
    return doc


def secret_content(data: dict[str, str]) -> str:
    """What podman 4.3's secretKeyRef expects in a podman secret: the Secret's `data` map."""
    return json.dumps(data)


def encoded(values: dict[str, str]) -> dict[str, str]:
    """A Secret's `data` for plain values (what `kubectl create secret generic` stores)."""
    return {key: base64.b64encode(value.encode()).decode() for key, value in values.items()}


# The data of each podman secret this run created: what a secret volume's stand-in holds.
CREATED_SECRETS: dict[str, dict[str, str]] = {}


def create_secret(name: str, data: dict[str, str], directory: Path) -> None:
    path = directory / f"secret-{name}.json"
    path.write_text(secret_content(data))
    CREATED_SECRETS[name] = data
    podman("secret", "rm", name, check=False)
    podman("secret", "create", name, str(path))


def container_of(pod: Doc) -> Doc:
    spec = pod["spec"]["template"]["spec"] if pod["kind"] == "Deployment" else pod["spec"]
    (container,) = spec["containers"]
    assert isinstance(container, dict)
    return container


@dataclass
class PlayedPod:
    """One workload played by podman: its file, pod and container names, and its probes."""

    manifest: Path
    workload: Doc
    container_name: str
    log_file: Path

    @property
    def container(self) -> Doc:
        return container_of(self.workload)

    def inspect(self) -> dict[str, Any]:
        (details,) = json.loads(podman("container", "inspect", self.container_name).stdout)
        assert isinstance(details, dict)
        return details

    def running(self) -> bool:
        """Up, and never restarted (a Deployment's pod restarts a container that exits)."""
        details = self.inspect()
        return bool(details["State"]["Running"]) and not details.get("RestartCount")

    def logs(self) -> str:
        """The container's output, from podman's k8s-file log (kept after `kube down`)."""
        if not self.log_file.exists():
            return ""
        # Each record is "<time> <stream> <P|F> <text>"; P marks a partial line.
        text = []
        for record in self.log_file.read_text(errors="replace").splitlines():
            parts = record.split(" ", 3)
            if len(parts) == 4:
                text.append(parts[3] + ("\n" if parts[2] == "F" else ""))
        return "".join(text)

    def exec(self, *command: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return podman("exec", self.container_name, *command, timeout=timeout, check=False)

    def probe(self, kind: str) -> subprocess.CompletedProcess[str]:
        """Run the chart's probe `kind` once against the container, as the kubelet would."""
        probe = self.container[kind]
        http_get = probe["httpGet"]
        port = http_get["port"]
        if isinstance(port, str):
            (port,) = [p["containerPort"] for p in self.container["ports"] if p["name"] == port]
        url = f"http://127.0.0.1:{port}{http_get['path']}"
        timeout = float(probe.get("timeoutSeconds", 1))
        return self.exec("python", "-c", PROBE_SCRIPT, url, str(timeout), timeout=timeout + 30)

    def wait_for_probe(self, kind: str, timeout: float) -> subprocess.CompletedProcess[str]:
        def passed_or_stopped(result: subprocess.CompletedProcess[str]) -> bool:
            return result.returncode == 0 or not self.running()

        result = poll(lambda: self.probe(kind), passed_or_stopped, timeout, interval=0.5)
        if result.returncode != 0:
            # The probe's last line (a status or the exception), then the container's log.
            outcome = (result.stdout + result.stderr).strip().splitlines()[-1:] or [""]
            raise AssertionError(
                f"{kind} of {self.container_name} never passed: {outcome[0]}\n{self.logs()[-3000:]}"
            )
        return result

    def stop(self) -> float:
        """SIGTERM, then SIGKILL after the chart's terminationGracePeriodSeconds, as the kubelet
        does; returns the seconds it took. The container stops first, its pod's network after
        it, as on a node: `podman pod stop` takes the infra container (the network) down at
        once, and `podman kube down` in 4.3 stops with a 0 s timeout (SIGKILL right after
        SIGTERM), so `down()` comes after this."""
        grace = self.workload["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        started = time.monotonic()
        podman("stop", "--time", str(grace), self.container_name, timeout=grace + 30)
        return time.monotonic() - started

    def down(self) -> None:
        podman("kube", "down", str(self.manifest), timeout=60)


def secret_volumes_as_host_paths(workload: Doc, directory: Path) -> None:
    """Replace each `secret` volume by a hostPath directory with its items (see the docstring)."""
    spec = (
        workload["spec"]["template"]["spec"]
        if workload["kind"] == "Deployment"
        else workload["spec"]
    )
    group = spec.get("securityContext", {}).get("fsGroup", 0)
    for volume in spec.get("volumes", []):
        secret = volume.pop("secret", None)
        if secret is None:
            continue
        data = CREATED_SECRETS[secret["secretName"]]
        items = secret.get("items") or [{"key": key, "path": key} for key in data]
        files = directory / f"volume-{workload['metadata']['name']}-{volume['name']}"
        files.mkdir(parents=True, exist_ok=True)
        os.chown(files, 0, group)
        files.chmod(0o750)
        for item in items:
            path = files / item["path"]
            path.write_bytes(base64.b64decode(data[item["key"]]))
            os.chown(path, 0, group)
            path.chmod(secret.get("defaultMode", 0o644))
        volume["hostPath"] = {"path": str(files), "type": "Directory"}


def play(workload: Doc, config_map: Doc, directory: Path) -> PlayedPod:
    """Write the workload (with the ConfigMap it reads) to a file and `podman kube play` it."""
    secret_volumes_as_host_paths(workload, directory)
    name = workload["metadata"]["name"]
    manifest = directory / f"{name}.yaml"
    manifest.write_text(yaml.safe_dump_all([config_map, workload]))
    log_file = directory / f"{name}.log"
    podman("kube", "down", str(manifest), check=False)
    podman(
        "kube", "play", "--network", NETWORK, "--log-opt", f"path={log_file}", str(manifest),
        timeout=120,
    )  # fmt: skip
    container = container_of(workload)
    # podman names a Deployment's pod <name>-pod-0 (a bare Pod keeps its name), and its
    # containers <pod>-<container>.
    pod_name = f"{name}-pod-0" if workload["kind"] == "Deployment" else name
    return PlayedPod(manifest, workload, f"{pod_name}-{container['name']}", log_file)


def publish_ports(workload: Doc, host_ports: list[int]) -> dict[str, int]:
    """Give every container port a free `hostPort` on 127.0.0.1 (podman 4.3 publishes a port
    without one on 0.0.0.0 at the container's number); the API's stands in for its Service."""
    ports = container_of(workload)["ports"]
    assert len(host_ports) == len(ports)
    # Each replica would be a pod of its own bound to the same host ports: play one.
    workload["spec"]["replicas"] = 1
    for port, host_port in zip(ports, host_ports, strict=True):
        port["hostPort"] = host_port
        port["hostIP"] = "127.0.0.1"
    return {port["name"]: port["hostPort"] for port in ports}


def point_helm_test_at(test_pod: Doc, api_url: str) -> None:
    """The `helm test` Pod's API_URL names the Service; podman has none. Its checkov skip
    annotations go too: podman 4.3 refuses pod annotation values over 63 characters (a limit
    Kubernetes puts on label values, not on annotations)."""
    annotations = test_pod["metadata"]["annotations"]
    for key in [key for key in annotations if key.startswith("checkov.io/")]:
        del annotations[key]
    for variable in container_of(test_pod)["env"]:
        if variable["name"] == "API_URL":
            variable["value"] = api_url
