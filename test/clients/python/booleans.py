# Boolean parameters as this client writes them ("True", "False"): watch, allowWatchBookmarks, pretty (a string the
# caller gives), orphanDependents. Usage: booleans.py KUBECONFIG NAMESPACE NAME
import json
import sys

from kubernetes import client

from common import core, emit

v1 = core()
namespace, name = sys.argv[2], sys.argv[3]
out = {}

# watch=True&allowWatchBookmarks=True&timeoutSeconds=1: a watch stream (events, one JSON document a line), not a list.
resp = v1.list_namespaced_config_map(namespace, watch=True, allow_watch_bookmarks=True, timeout_seconds=1, _preload_content=False)
lines = [json.loads(l) for l in resp.data.decode().splitlines() if l.strip()]
out["watchLines"] = [l.get("type") for l in lines]
out["watchContentType"] = resp.headers.get("Content-Type")

# watch=False is a list.
listed = v1.list_namespaced_config_map(namespace, watch=False, _preload_content=False)
out["listKind"] = json.loads(listed.data)["kind"]

# pretty=True: indented JSON.
got = v1.list_namespaced_config_map(namespace, pretty="True", _preload_content=False)
out["prettyIndented"] = got.data.decode().startswith('{\n  "kind"')
got = v1.list_namespaced_config_map(namespace, pretty="False", _preload_content=False)
out["notPrettyCompact"] = got.data.decode().startswith('{"kind"')

# orphanDependents=True: the object waits for the garbage collector with the orphan finalizer (kube answers 200).
v1.create_namespaced_config_map(namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name)))
deleted = v1.delete_namespaced_config_map(name, namespace, orphan_dependents=True, _preload_content=False)
out["deleteStatus"] = deleted.status
out["deleteFinalizers"] = json.loads(deleted.data)["metadata"].get("finalizers")
emit(out)
