# port-forward with the client's portforward() (WebSocket, v4.channel.k8s.io, ports in ?ports=): an HTTP request to
# the pod's port through the forwarded socket. Usage: portforward.py KUBECONFIG NAMESPACE POD PORT PATH
import sys

from kubernetes.stream import portforward

from common import core, emit

v1 = core()
namespace, pod, port, path = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
pf = portforward(v1.connect_get_namespaced_pod_portforward, pod, namespace, ports=str(port))
sock = pf.socket(port)
sock.setblocking(True)
sock.sendall(("GET %s HTTP/1.0\r\nHost: pod\r\n\r\n" % path).encode())
data = b""
while True:
    chunk = sock.recv(65536)
    if not chunk:
        break
    data += chunk
sock.close()
head, _, body = data.partition(b"\r\n\r\n")
emit({"statusLine": head.split(b"\r\n")[0].decode(), "body": body.decode(), "error": pf.error(port)})
