# attach with the client's stream() (WebSocket, v4.channel.k8s.io) to a container that prints a line a second: its
# output comes through. Usage: attach.py KUBECONFIG NAMESPACE POD CONTAINER MARKER
import sys
import time

from kubernetes.stream import stream

from common import core, emit

v1 = core()
namespace, pod, container, marker = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
resp = stream(v1.connect_get_namespaced_pod_attach, pod, namespace, container=container,
              stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
seen = ""
deadline = time.time() + 20
while resp.is_open() and time.time() < deadline and marker not in seen:
    resp.update(timeout=1)
    seen += resp.read_channel(1)
open_after = resp.is_open()
resp.close()
emit({"stdout": seen, "openWhileAttached": open_after})
