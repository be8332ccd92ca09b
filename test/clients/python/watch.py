# A list, then a watch from the list's resourceVersion (the client sends watch=True), over a create, an update and a
# delete made in between: the watch replays them in order. Usage: watch.py KUBECONFIG NAMESPACE NAME
import sys

from kubernetes import client, watch

from common import core, emit

v1 = core()
namespace, name = sys.argv[2], sys.argv[3]
selector = "scenario=" + name
listed = v1.list_namespaced_config_map(namespace, label_selector=selector)
rv = listed.metadata.resource_version

body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels={"scenario": name}), data={"step": "created"})
v1.create_namespaced_config_map(namespace, body)
v1.patch_namespaced_config_map(name, namespace, {"data": {"step": "updated"}})
v1.delete_namespaced_config_map(name, namespace)

events = []
w = watch.Watch()
for ev in w.stream(v1.list_namespaced_config_map, namespace, label_selector=selector, resource_version=rv, timeout_seconds=20):
    obj = ev["object"]
    events.append({"type": ev["type"], "name": obj.metadata.name, "step": (obj.data or {}).get("step")})
    if ev["type"] == "DELETED":
        w.stop()
emit({"listed": len(listed.items), "events": events})
