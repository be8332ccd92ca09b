# An exec WebSocket offering only a subprotocol the server does not speak: the handshake is refused with 400, and the
# same request over plain HTTP shows the Status. Usage: subprotocol.py KUBECONFIG NAMESPACE POD
import http.client
import ssl
import sys

import websocket

from common import core, emit

v1 = core()
cfg = v1.api_client.configuration
namespace, pod = sys.argv[2], sys.argv[3]
path = "/api/v1/namespaces/%s/pods/%s/exec?command=true&container=main&stdout=True" % (namespace, pod)
host = cfg.host.replace("https://", "")
sslopt = {"cert_reqs": ssl.CERT_REQUIRED, "ca_certs": cfg.ssl_ca_cert, "certfile": cfg.cert_file, "keyfile": cfg.key_file, "check_hostname": False}
result = {}
try:
    websocket.create_connection("wss://" + host + path, sslopt=sslopt, header=["sec-websocket-protocol: v9.channel.example.com"])
    result["handshake"] = 101
except websocket.WebSocketBadStatusException as e:
    result["handshake"] = e.status_code

ctx = ssl.create_default_context(cafile=cfg.ssl_ca_cert)
ctx.check_hostname = False
ctx.load_cert_chain(cfg.cert_file, cfg.key_file)
conn = http.client.HTTPSConnection(host, context=ctx)
conn.request("GET", path, headers={"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol": "v9.channel.example.com"})
resp = conn.getresponse()
result["status"] = resp.status
result["body"] = resp.read().decode()
emit(result)
