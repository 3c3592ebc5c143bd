"""A Kubernetes CRD's schema as a plain JSON Schema, so its objects can be validated offline.

    python -m scripts.crd_schema CRD.yaml > deploy/schemas/NAME.json

kubernetes-validate knows only Kubernetes' own kinds (for a CRD's kind it warns and still exits
0), so a custom resource such as KEDA's ``ScaledObject`` is checked against the JSON Schema this
makes from the CRD's ``openAPIV3Schema``: ``apiVersion`` and ``kind`` pinned, ``nullable`` as a
``null`` type, ``x-kubernetes-int-or-string`` as integer or string, and every object that lists
its properties closed to others (as ``kubectl apply --validate=strict`` refuses unknown fields)
unless the CRD preserves unknown fields there. Not expressible, so not checked: the CRD's CEL
rules (``x-kubernetes-validations``, e.g. ``minReplicaCount <= maxReplicaCount``) and formats.
"""

import json
import sys
from pathlib import Path
from typing import Any

import yaml


def _convert(node: Any) -> Any:
    if isinstance(node, list):
        return [_convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _convert(value) for key, value in node.items() if not key.startswith("x-kubernetes-")}
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    closable = "properties" in out and "additionalProperties" not in out
    if closable and not node.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    return out


def crd_schema(crd: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema of the CRD's stored version."""
    spec = crd["spec"]
    version = next(v for v in spec["versions"] if v.get("storage"))
    schema: dict[str, Any] = _convert(version["schema"]["openAPIV3Schema"])
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    schema["title"] = f"{spec['names']['kind']} {spec['group']}/{version['name']}"
    properties = schema.setdefault("properties", {})
    properties["apiVersion"] = {"const": f"{spec['group']}/{version['name']}"}
    properties["kind"] = {"const": spec["names"]["kind"]}
    # The CRD leaves ObjectMeta open (type: object); these are the fields manifests use.
    strings = {"type": "object", "additionalProperties": {"type": "string"}}
    properties["metadata"] = {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string"},
            "namespace": {"type": "string"},
            "labels": strings,
            "annotations": strings,
        },
    }
    schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind", "metadata", "spec"})
    return schema


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(crd_schema(yaml.safe_load(Path(argv[0]).read_text())), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
