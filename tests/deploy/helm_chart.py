"""The Helm chart as the tests read it: rendered like `helm template`, and the rendered documents.

The one home of rendering and of finding things in the result, for tests/deploy (test_helm.py,
test_helm_operations.py, test_trivy.py, artifact_checks.py on a copy of the repository),
tests/monitoring and tests/image.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import kubernetes_validate
import kubernetes_validate.utils
import yaml
from helm_python import chart as helm

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "sbs"
RELEASE = "sbs"
NAMESPACE = "sbs"
# The Kubernetes version the rendered manifests are validated against.
KUBE_VERSION = "1.34.0"
# The kinds whose objects run pods.
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job", "DaemonSet", "Pod")

Doc = dict[str, Any]


def docs_of(manifests: dict[str, str]) -> list[Doc]:
    """The documents of rendered manifests, NOTES.txt left out."""
    return [
        doc
        for path, text in sorted(manifests.items())
        if not path.endswith("NOTES.txt")
        for doc in yaml.load_all(text, Loader=yaml.CSafeLoader)  # libyaml: the same documents
        if doc
    ]


# kubernetes-validate reads and parses a schema file (megabytes of JSON) on every call; the
# files of the installed package do not change while the tests run, so each is read once.
kubernetes_validate.utils.schema_contents = functools.cache(
    kubernetes_validate.utils.schema_contents
)


def schema_error(doc: Doc) -> str | None:
    """What Kubernetes' strict schema of KUBE_VERSION refuses in `doc` (None: it is valid)."""
    try:
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        return f"{doc['kind']}/{doc['metadata']['name']}: {error.message}"
    return None


def render_chart(
    chart_dir: Path, values: dict[str, Any], release: str = RELEASE, namespace: str = NAMESPACE
) -> list[Doc]:
    """Every non-empty document the chart at `chart_dir` renders with `values`.

    The chart is loaded afresh each time: rendering drops disabled subcharts from the loaded
    chart object (helm-python-sdk 0.2.2), which would leak into the next render. Nothing is
    cached either: each render generates new passwords, as `helm template` does.
    """
    with helm.Chart.load(chart_dir) as chart:
        return docs_of(chart.render(values, name=release, namespace=namespace))


def render(values: dict[str, Any]) -> list[Doc]:
    """The platform's chart rendered as the release `sbs` in the namespace `sbs`."""
    return render_chart(CHART, values)


def of_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [doc for doc in docs if doc["kind"] == kind]


def named(docs: list[Doc], kind: str, name: str) -> Doc:
    matches = [doc for doc in of_kind(docs, kind) if doc["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def is_workload(doc: Doc) -> bool:
    return doc["kind"] in WORKLOAD_KINDS


def pod_spec(workload: Doc) -> Doc:
    """The pod spec of a Pod, or the pod template's spec of any other workload."""
    assert is_workload(workload), f"{workload['kind']} runs no pods"
    spec: Doc = (
        workload["spec"] if workload["kind"] == "Pod" else workload["spec"]["template"]["spec"]
    )
    return spec


def all_containers(workload: Doc) -> list[Doc]:
    spec = pod_spec(workload)
    return [*spec.get("initContainers", []), *spec["containers"]]


def main_container(workload: Doc) -> Doc:
    container: Doc = pod_spec(workload)["containers"][0]
    return container


def pod_annotations(workload: Doc) -> dict[str, str]:
    annotations: dict[str, str] = workload["spec"]["template"]["metadata"]["annotations"]
    return annotations


def component_workload(docs: list[Doc], component: str) -> Doc:
    """The API Deployment, or the worker Deployment of the current version (one per build id)."""
    found = [
        doc
        for doc in of_kind(docs, "Deployment")
        if doc["metadata"]["labels"].get("app.kubernetes.io/component") == component
        and doc["metadata"]["annotations"].get("sbs.platform/current-version", "true") == "true"
    ]
    assert len(found) == 1, f"expected one current {component} Deployment, found {len(found)}"
    return found[0]


def worker_versions(docs: list[Doc]) -> dict[str, Doc]:
    """Every worker Deployment by the build id it runs."""
    return {
        doc["metadata"]["annotations"]["sbs.platform/build-id"]: doc
        for doc in of_kind(docs, "Deployment")
        if doc["metadata"]["labels"].get("app.kubernetes.io/component") == "worker"
    }


def app_containers(docs: list[Doc]) -> dict[str, Doc]:
    """The platform's own containers: the API's and the current worker version's."""
    return {
        component: main_container(component_workload(docs, component))
        for component in ("api", "worker")
    }
