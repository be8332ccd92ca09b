# Creates the same ConfigMap twice: the second create fails with 409, and the body the server sent is printed as it
# came, for the test to compare with kube-apiserver's text. Usage: conflict.py KUBECONFIG NAMESPACE NAME
import sys

from kubernetes import client
from kubernetes.client.rest import ApiException

from common import core, emit

v1 = core()
namespace, name = sys.argv[2], sys.argv[3]
body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name), data={"a": "b"})
v1.create_namespaced_config_map(namespace, body)
try:
    v1.create_namespaced_config_map(namespace, body)
    emit({"status": 201})
except ApiException as e:
    emit({"status": e.status, "reason": e.reason, "body": e.body.decode() if isinstance(e.body, bytes) else e.body})
