# exec with the client's stream() (WebSocket, v4.channel.k8s.io): the output, the raw error channel (a JSON Status)
# and the exit code the client reads from it. Usage: exec.py KUBECONFIG NAMESPACE POD CONTAINER COMMAND_JSON
import json
import sys

from kubernetes.stream import stream

from common import core, emit

v1 = core()
namespace, pod, container, command = sys.argv[2], sys.argv[3], sys.argv[4], json.loads(sys.argv[5])
resp = stream(v1.connect_get_namespaced_pod_exec, pod, namespace, command=command, container=container,
              stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
resp.run_forever(timeout=30)
stdout = resp.read_channel(1)
stderr = resp.read_channel(2)
error = resp.peek_channel(3)
emit({"stdout": stdout, "stderr": stderr, "error": error, "returncode": resp.returncode})
