# What the scenario scripts share: the client from a kubeconfig (argv[1]), and one JSON result on stdout.
import json
import sys

from kubernetes import client, config


def core():
    """A CoreV1Api for the kubeconfig named by the first argument, as a service using the client would build it."""
    api_client = config.new_client_from_config(config_file=sys.argv[1])
    return client.CoreV1Api(api_client)


def emit(result):
    """The script's result: one JSON document on stdout, read by the test."""
    sys.stdout.write(json.dumps(result))
    sys.stdout.write("\n")
    sys.stdout.flush()
