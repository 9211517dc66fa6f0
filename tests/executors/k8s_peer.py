"""A Kubernetes API server on loopback for the `kubernetes` executor's tests: the REST paths the
executor uses (Jobs, Secrets, Pods and a pod's log), objects in memory, Kubernetes' JSON shapes
(lists, `Status` errors with their reason and code, defaults the API server fills in), and a record
of every request.

The peer is also the cluster's controllers, at the test's command: `start_pod` and `set_pod` play the
Job controller and the kubelet, `set_job_condition` the Job controller's verdict. Deleting a Job
honours the propagation policy as the garbage collector would (Jobs orphan their pods by default);
deleting an owner deletes the Secrets that name it in their `ownerReferences`.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# resource -> (apiVersion, kind, API group for Status details)
RESOURCES = {"jobs": ("batch/v1", "Job", "batch"), "secrets": ("v1", "Secret", ""), "pods": ("v1", "Pod", "")}
ROUTES = [
    re.compile(r"^/apis/batch/v1/namespaces/(?P<ns>[^/]+)/(?P<resource>jobs)(?:/(?P<name>[^/]+))?$"),
    re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/(?P<resource>secrets|pods)(?:/(?P<name>[^/]+))?$"),
    re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/(?P<resource>pods)/(?P<name>[^/]+)/(?P<sub>log)$"),
]
MERGE_PATCHES = ("application/merge-patch+json", "application/strategic-merge-patch+json")


def timestamp(at: datetime | None = None) -> str:
    return (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


def waiting(reason: str, message: str = "") -> dict[str, Any]:
    return {"waiting": {"reason": reason, **({"message": message} if message else {})}}


def running() -> dict[str, Any]:
    return {"running": {"startedAt": timestamp()}}


def terminated(exit_code: int, reason: str, message: str = "") -> dict[str, Any]:
    return {
        "terminated": {
            "exitCode": exit_code,
            "reason": reason,
            "startedAt": timestamp(),
            "finishedAt": timestamp(),
            "containerID": f"containerd://{uuid.uuid4().hex}",
            **({"message": message} if message else {}),
        }
    }


class Refused(Exception):
    """An error answer: a `Status` with this code and reason."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "details": details or {},
            "code": code,
        }


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    content_type: str | None
    authorization: str | None
    body: Any


def _matches(labels: dict[str, str], selector: str) -> bool:
    """Equality-based label selectors: `k=v`, `k==v`, `k!=v`, `k`, `!k`, joined by commas."""
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key) != value:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def _merge(target: dict[str, Any], patch: dict[str, Any], *, strategic: bool) -> dict[str, Any]:
    """A JSON merge patch (RFC 7386); the strategic one merges `ownerReferences` by uid."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value, strategic=strategic)
        elif strategic and key == "ownerReferences" and isinstance(target.get(key), list):
            kept = [ref for ref in target[key] if ref.get("uid") not in {v.get("uid") for v in value}]
            target[key] = kept + value
        else:
            target[key] = copy.deepcopy(value)
    return target


class KubernetesPeer:
    def __init__(self) -> None:
        self.objects: dict[str, dict[tuple[str, str], dict[str, Any]]] = {r: {} for r in RESOURCES}
        self.logs: dict[tuple[str, str], str] = {}  # (namespace, pod) -> the run container's log
        self.requests: list[Request] = []
        self.refuse: dict[tuple[str, str], int] = {}  # (method, resource) -> the code to answer with
        self.logs_unavailable = False  # the kubelet cannot be reached: reading a log fails with 500
        self.lock = threading.Lock()
        self._versions = itertools.count(1000)
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                peer._handle(self)

            do_POST = do_DELETE = do_PATCH = do_PUT = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    # --- what the tests read and do --------------------------------------------------------------

    def get(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        with self.lock:
            found = self.objects[resource].get((namespace, name))
            return copy.deepcopy(found) if found is not None else None

    def names(self, resource: str, namespace: str) -> list[str]:
        with self.lock:
            return sorted(name for ns, name in self.objects[resource] if ns == namespace)

    def requests_to(self, method: str, path_part: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.method == method and path_part in r.path]

    def rbac_used(self) -> dict[tuple[str, str], set[str]]:
        """What the requests so far needed, as the API server authorizes them: `{(API group,
        resource): verbs}` (`pods/log` for a pod's log; `list` for a GET of a collection)."""
        used: dict[tuple[str, str], set[str]] = {}
        verbs = {"POST": "create", "PATCH": "patch", "PUT": "update", "DELETE": "delete"}
        with self.lock:
            requests = list(self.requests)
        for request in requests:
            match = next((m for route in ROUTES if (m := route.match(request.path))), None)
            if match is None:
                continue
            resource, name, sub = match["resource"], match["name"], match.groupdict().get("sub")
            verb = verbs.get(request.method) or ("get" if name else "list")
            key = (RESOURCES[resource][2], f"{resource}/{sub}" if sub else resource)
            used.setdefault(key, set()).add(verb)
        return used

    def start_pod(
        self,
        namespace: str,
        job_name: str,
        *,
        phase: str = "Pending",
        container: dict[str, Any] | None = None,
        created: datetime | None = None,
    ) -> str:
        """The Job controller makes the Job's pod, as its template says; returns the pod's name."""
        with self.lock:
            job = self.objects["jobs"][(namespace, job_name)]
            template = job["spec"]["template"]
            name = f"{job_name}-{uuid.uuid4().hex[:5]}"
            metadata = {
                "name": name,
                "namespace": namespace,
                "uid": str(uuid.uuid4()),
                "resourceVersion": str(next(self._versions)),
                "creationTimestamp": timestamp(created),
                "labels": dict(template["metadata"]["labels"]),
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "Job",
                        "name": job_name,
                        "uid": job["metadata"]["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            }
            self.objects["pods"][(namespace, name)] = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": metadata,
                "spec": copy.deepcopy(template["spec"]),
                "status": {"phase": phase},
            }
            job["status"]["active"] = 1
        self.set_pod(namespace, name, phase=phase, container=container or waiting("ContainerCreating"))
        return name

    def set_pod(
        self,
        namespace: str,
        name: str,
        *,
        phase: str,
        container: dict[str, Any] | None = None,
        reason: str | None = None,
        message: str | None = None,
        conditions: list[dict[str, Any]] | None = None,
        log: str | None = None,
    ) -> None:
        """The kubelet (or the scheduler) reports on the pod."""
        with self.lock:
            pod = self.objects["pods"][(namespace, name)]
            status: dict[str, Any] = {"phase": phase, "startTime": pod["metadata"]["creationTimestamp"]}
            if container is not None:
                status["containerStatuses"] = [
                    {
                        "name": "run",
                        "image": pod["spec"]["containers"][0]["image"],
                        "imageID": "",
                        "ready": "running" in container,
                        "restartCount": 0,
                        "started": "running" in container,
                        "state": container,
                    }
                ]
            status |= {"reason": reason} if reason else {}
            status |= {"message": message} if message else {}
            status |= {"conditions": conditions} if conditions else {}
            pod["status"] = status
            if log is not None:
                self.logs[(namespace, name)] = log

    def set_job_condition(
        self, namespace: str, name: str, type_: str, reason: str, message: str = ""
    ) -> None:
        """The Job controller's verdict (`Complete`, `Failed`, `FailureTarget`, `SuccessCriteriaMet`)."""
        with self.lock:
            status = self.objects["jobs"][(namespace, name)]["status"]
            now = timestamp()
            status.setdefault("conditions", []).append(
                {
                    "type": type_,
                    "status": "True",
                    "reason": reason,
                    "message": message,
                    "lastProbeTime": now,
                    "lastTransitionTime": now,
                }
            )
            status["active"] = 0
            if type_ in ("Complete", "SuccessCriteriaMet"):
                status |= {"succeeded": 1, "completionTime": now}
            else:
                status["failed"] = 1

    # --- the API ----------------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        url = urlsplit(handler.path)
        query = parse_qs(url.query)
        raw = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        content_type = handler.headers.get("Content-Type")
        body = json.loads(raw) if raw else None
        with self.lock:
            self.requests.append(
                Request(
                    handler.command, url.path, query, content_type, handler.headers.get("Authorization"), body
                )
            )
        try:
            code, answer = self._route(handler.command, url.path, query, content_type, body)
        except Refused as refused:
            code, answer = refused.status["code"], refused.status
        if isinstance(answer, str):
            data, kind = answer.encode(), "text/plain"
        else:
            data, kind = json.dumps(answer).encode(), "application/json"
        handler.send_response(code)
        handler.send_header("Content-Type", kind)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], content_type: str | None, body: Any
    ) -> tuple[int, Any]:
        match = next((m for route in ROUTES if (m := route.match(path))), None)
        if match is None:
            raise Refused(404, "NotFound", "the server could not find the requested resource")
        ns, resource, name, sub = match["ns"], match["resource"], match["name"], match.groupdict().get("sub")
        code = self.refuse.get((method, resource))
        if code is not None:
            raise Refused(code, "Forbidden", f'{resource} is forbidden: {method} refused in namespace "{ns}"')
        with self.lock:
            if sub == "log":
                return 200, self._log(ns, name, query)
            if name is None and method == "POST":
                return 201, self._create(resource, ns, body)
            if name is None and method == "GET":
                return 200, self._list(resource, ns, query.get("labelSelector", [""])[0])
            if name is not None and method == "GET":
                return 200, self._existing(resource, ns, name)
            if name is not None and method == "DELETE":
                return 200, self._delete(resource, ns, name, query, body)
            if name is not None and method == "PATCH":
                return 200, self._patch(resource, ns, name, content_type, body)
        raise Refused(405, "MethodNotAllowed", f"{method} is not supported here")

    def _existing(self, resource: str, ns: str, name: str) -> dict[str, Any]:
        found = self.objects[resource].get((ns, name))
        if found is None:
            group = RESOURCES[resource][2]
            qualified = f"{resource}.{group}" if group else resource
            details = {"name": name, "group": group, "kind": resource}
            raise Refused(404, "NotFound", f'{qualified} "{name}" not found', details)
        return found

    def _create(self, resource: str, ns: str, body: dict[str, Any]) -> dict[str, Any]:
        api_version, kind, group = RESOURCES[resource]
        name = body.get("metadata", {}).get("name", "")
        if (ns, name) in self.objects[resource]:
            qualified = f"{resource}.{group}" if group else resource
            details = {"name": name, "group": group, "kind": resource}
            raise Refused(409, "AlreadyExists", f'{qualified} "{name}" already exists', details)
        self._validate(resource, body)
        stored = copy.deepcopy(body) | {"apiVersion": api_version, "kind": kind}
        stored["metadata"] |= {
            "namespace": ns,
            "uid": str(uuid.uuid4()),
            "resourceVersion": str(next(self._versions)),
            "creationTimestamp": timestamp(),
        }
        if resource == "jobs":
            self._default_job(stored)
        self.objects[resource][(ns, name)] = stored
        return stored

    def _validate(self, resource: str, body: dict[str, Any]) -> None:
        """A few of the API server's checks: enough to refuse a malformed manifest."""
        name = body.get("metadata", {}).get("name", "")
        problems = (
            [] if DNS_LABEL.match(name) and len(name) <= 63 else [f"metadata.name: Invalid value: {name!r}"]
        )
        if resource == "jobs":
            pod = body.get("spec", {}).get("template", {}).get("spec", {})
            if pod.get("restartPolicy") not in ("Never", "OnFailure"):
                problems.append("spec.template.spec.restartPolicy: Required value")
            if not pod.get("containers") or any(
                not c.get("name") or not c.get("image") for c in pod["containers"]
            ):
                problems.append("spec.template.spec.containers: Required value")
        if resource == "secrets":
            for key, value in (body.get("data") or {}).items():
                if not re.fullmatch(r"[A-Za-z0-9+/]*={0,2}", value or ""):
                    problems.append(f"data[{key}]: illegal base64 data")
        if problems:
            kind = RESOURCES[resource][1]
            raise Refused(422, "Invalid", f'{kind} "{name}" is invalid: {"; ".join(problems)}')

    def _default_job(self, job: dict[str, Any]) -> None:
        """What the API server fills in: the selector, the pod labels that match it, the defaults."""
        uid, name = job["metadata"]["uid"], job["metadata"]["name"]
        owner_labels = {
            "batch.kubernetes.io/controller-uid": uid,
            "batch.kubernetes.io/job-name": name,
            "controller-uid": uid,
            "job-name": name,
        }
        spec = job["spec"]
        spec.setdefault("parallelism", 1)
        spec.setdefault("completions", 1)
        spec.setdefault("completionMode", "NonIndexed")
        spec.setdefault("suspend", False)
        spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
        spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
        template_meta = spec["template"].setdefault("metadata", {})
        template_meta["labels"] = {**template_meta.get("labels", {}), **owner_labels}
        job["status"] = {"startTime": timestamp()}

    def _list(self, resource: str, ns: str, selector: str) -> dict[str, Any]:
        api_version, kind, _ = RESOURCES[resource]
        items = [
            {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
            for (obj_ns, _name), obj in sorted(self.objects[resource].items())
            if obj_ns == ns and _matches(obj["metadata"].get("labels") or {}, selector)
        ]
        metadata = {"resourceVersion": str(next(self._versions))}
        return {"apiVersion": api_version, "kind": f"{kind}List", "metadata": metadata, "items": items}

    def _delete(
        self, resource: str, ns: str, name: str, query: dict[str, list[str]], body: dict[str, Any] | None
    ) -> dict[str, Any]:
        obj = self._existing(resource, ns, name)
        policy = (body or {}).get("propagationPolicy") or query.get("propagationPolicy", [None])[0]
        # A Job's dependents are orphaned unless the request says otherwise (batch/v1's default).
        policy = policy or ("Orphan" if resource == "jobs" else "Background")
        del self.objects[resource][(ns, name)]
        uid = obj["metadata"]["uid"]
        for dependents in self.objects.values():
            for key, dependent in list(dependents.items()):
                refs = dependent["metadata"].get("ownerReferences") or []
                if key[0] == ns and any(ref.get("uid") == uid for ref in refs):
                    if policy == "Orphan":
                        dependent["metadata"]["ownerReferences"] = [r for r in refs if r.get("uid") != uid]
                    else:
                        del dependents[key]
                        self.logs.pop(key, None)
        if policy == "Foreground":  # the object the API server answers with, before the collector ends
            obj = copy.deepcopy(obj)
            obj["metadata"] |= {"deletionTimestamp": timestamp(), "finalizers": ["foregroundDeletion"]}
            return obj
        group = RESOURCES[resource][2]
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {"name": name, "group": group, "kind": resource, "uid": uid},
        }

    def _patch(
        self, resource: str, ns: str, name: str, content_type: str | None, body: dict[str, Any]
    ) -> dict[str, Any]:
        obj = self._existing(resource, ns, name)
        if content_type not in MERGE_PATCHES or not isinstance(body, dict):
            raise Refused(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format: {content_type}",
            )
        _merge(obj, body, strategic=content_type == MERGE_PATCHES[1])
        obj["metadata"]["resourceVersion"] = str(next(self._versions))
        return obj

    def _log(self, ns: str, name: str, query: dict[str, list[str]]) -> str:
        pod = self._existing("pods", ns, name)
        container = query.get("container", ["run"])[0]
        states = [s["state"] for s in pod["status"].get("containerStatuses", []) if s["name"] == container]
        if not states:
            raise Refused(400, "BadRequest", f'container "{container}" in pod "{name}" is not valid')
        if "waiting" in states[0]:
            reason = states[0]["waiting"].get("reason", "")
            raise Refused(
                400, "BadRequest", f'container "{container}" in pod "{name}" is waiting to start: {reason}'
            )
        if self.logs_unavailable:
            raise Refused(
                500, "InternalError", 'Get "https://10.0.0.7:10250/containerLogs": dial tcp: i/o timeout'
            )
        lines = self.logs.get((ns, name), "").splitlines(keepends=True)
        if "tailLines" in query:
            lines = lines[-int(query["tailLines"][0]) :] if int(query["tailLines"][0]) else []
        text = "".join(lines)
        if "limitBytes" in query:
            text = text.encode()[: int(query["limitBytes"][0])].decode("utf-8", "ignore")
        return text


@contextmanager
def kubernetes_peer() -> Iterator[KubernetesPeer]:
    peer = KubernetesPeer()
    thread = threading.Thread(target=peer.server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield peer
    finally:
        peer.server.shutdown()
        peer.server.server_close()


def ago(seconds: float) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=seconds)
