"""Renders deploy/k8s's kustomizations without a kustomize binary, for the tests.

It does what the project's kustomization files use, as kustomize does it:
`resources` (files and folders holding a kustomization, depth first, in order),
`patches` (strategic merge patches of whole objects, matched by kind and name),
`namespace` (set on every object but a Namespace) and `images` (`newName`,
`newTag` for a container image of that name). Patches are merged as kustomize
merges them for the fields they touch here: maps merge key by key, `null` deletes
a key, lists are replaced (the patched lists, a PVC's `accessModes` and the ports
of a Service that had none, have no merge key to merge by). Anything else in a
kustomization file is refused, so a new feature cannot be ignored silently;
`test_the_renderer_agrees_with_kustomize` compares the result with
`kubectl kustomize` where kubectl is installed.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Dict, List

import yaml

Object = Dict[str, Any]
SUPPORTED = {"apiVersion", "kind", "namespace", "resources", "patches", "images"}


def load_all(path: Path) -> List[Object]:
    """The YAML documents of a file, empty ones left out."""
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def render(folder: Path) -> List[Object]:
    """The objects the kustomization in `folder` builds."""
    spec = load_all(folder / "kustomization.yaml")[0]
    unknown = set(spec) - SUPPORTED
    if unknown:
        raise NotImplementedError(f"{folder}: kustomization fields {sorted(unknown)}")
    objects: List[Object] = []
    for entry in spec.get("resources", []):
        target = (folder / entry).resolve()
        objects.extend(render(target) if target.is_dir() else load_all(target))
    for patch_entry in spec.get("patches", []):
        if set(patch_entry) != {"path"}:
            raise NotImplementedError(f"{folder}: patch {patch_entry}")
        for patch in load_all(folder / patch_entry["path"]):
            target = _find(objects, patch["kind"], patch["metadata"]["name"])
            merged = _merge(target, {k: v for k, v in patch.items() if k != "metadata"})
            objects[objects.index(target)] = merged
    namespace = spec.get("namespace")
    if namespace:
        for item in objects:
            if item["kind"] != "Namespace":
                item.setdefault("metadata", {})["namespace"] = namespace
    for image in spec.get("images", []):
        for container in containers(objects):
            name, _, _ = container["image"].partition(":")
            if name == image["name"]:
                tag = container["image"].partition(":")[2]
                container["image"] = (f"{image.get('newName', name)}:"
                                      f"{image.get('newTag', tag)}")
    return objects


def containers(objects: List[Object]) -> List[Object]:
    """Every container of the workloads' pod templates, init containers first."""
    found: List[Object] = []
    for item in objects:
        template = item.get("spec", {}).get("template")
        if template:
            found.extend(template["spec"].get("initContainers", []))
            found.extend(template["spec"]["containers"])
    return found


def _find(objects: List[Object], kind: str, name: str) -> Object:
    for item in objects:
        if item["kind"] == kind and item["metadata"]["name"] == name:
            return item
    raise KeyError(f"patch of {kind}/{name}: no such object")


def _merge(base: Any, patch: Any) -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = copy.deepcopy(base)
        for key, value in patch.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = _merge(merged.get(key), value)
        return merged
    return copy.deepcopy(patch)
