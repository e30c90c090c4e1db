"""The Unity package's asset files (``clients/unity``), which Unity itself cannot check here:
every file and folder has a ``.meta`` with its own GUID (Unity refuses files without one in an
immutable package, and scenes name scripts by it), and the Follow sample scene (a Unity YAML
scene, never opened in CI) is whole: every ``fileID`` it names is one of its objects, each
MonoBehaviour names a script of the package by its GUID, and sets only that class's public fields.

``python -m tests.test_unity_package`` writes the ``.meta`` of every file or folder that has none
(GUIDs derived from the path, so they never change)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import yaml

PACKAGE = Path(__file__).resolve().parents[1] / "clients" / "unity"
SCENE = PACKAGE / "Samples~" / "Follow" / "Follow.unity"
GUID_SALT = "com.synthtwin.client:"
_TAIL = "  userData: \n  assetBundleName: \n  assetBundleVariant: \n"
_IMPORTERS = {
    ".cs": "MonoImporter:\n  externalObjects: {}\n  serializedVersion: 2\n  defaultReferences: []\n"
    "  executionOrder: 0\n  icon: {instanceID: 0}\n",
    ".asmdef": "AssemblyDefinitionImporter:\n  externalObjects: {}\n",
    ".md": "TextScriptImporter:\n  externalObjects: {}\n",
    ".json": "TextScriptImporter:\n  externalObjects: {}\n",
}
_OBJECT = re.compile(r"^--- !u!(\d+) &(\d+)", re.MULTILINE)
_PUBLIC_FIELD = re.compile(
    r"^\s*public (?!static|const|sealed|readonly)[\w<>\[\], ]+? (\w+)(?: =[^;]*)?;", re.MULTILINE
)


def assets() -> list[Path]:
    """Every file and folder Unity imports: the package's, but for the manual (``Documentation~``)
    and the ``.meta`` files themselves; samples included (they are copied into a project)."""
    found = []
    for path in sorted(PACKAGE.rglob("*")):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] == "Documentation~" or path.suffix == ".meta":
            continue
        if path.is_dir() and path.name.endswith("~"):
            continue
        found.append(path)
    return found


def meta_text(path: Path) -> str:
    """The ``.meta`` Unity would write for ``path``, with a GUID from its package path."""
    relative = path.relative_to(PACKAGE).as_posix()
    head = f"fileFormatVersion: 2\nguid: {guid_of(relative)}\n"
    if path.is_dir():
        return head + "folderAsset: yes\nDefaultImporter:\n  externalObjects: {}\n" + _TAIL
    if relative == "package.json":
        return head + "PackageManifestImporter:\n  externalObjects: {}\n" + _TAIL
    default = "DefaultImporter:\n  externalObjects: {}\n"
    return head + _IMPORTERS.get(path.suffix, default) + _TAIL


def guid_of(relative: str) -> str:
    """A stable 32-hex GUID for a package path."""
    return hashlib.md5((GUID_SALT + relative).encode()).hexdigest()


def meta_guid(path: Path) -> str:
    return yaml.safe_load(Path(f"{path}.meta").read_text())["guid"]


def write_missing_metas() -> list[Path]:
    written = []
    for path in assets():
        meta = Path(f"{path}.meta")
        if not meta.exists():
            meta.write_text(meta_text(path))
            written.append(meta)
    return written


def scene_objects(text: str) -> dict[int, tuple[int, str, dict]]:
    """Unity YAML: file id -> (class id, type name, fields) of each object of a scene."""
    heads = list(_OBJECT.finditer(text))
    objects = {}
    for head, after in zip(heads, [*heads[1:], None], strict=True):
        body = text[head.end() : after.start() if after else len(text)]
        ((kind, fields),) = yaml.safe_load(body).items()
        objects[int(head.group(2))] = (int(head.group(1)), kind, fields)
    return objects


def file_ids(value: object) -> list[int]:
    """Every ``{fileID: n}`` inside a field value."""
    if isinstance(value, dict):
        own = [value["fileID"]] if "fileID" in value and "guid" not in value else []
        return own + [i for v in value.values() for i in file_ids(v)]
    if isinstance(value, list):
        return [i for v in value for i in file_ids(v)]
    return []


def public_fields(script: Path) -> set[str]:
    """The public instance fields of a MonoBehaviour's C# source (what its inspector shows)."""
    return set(_PUBLIC_FIELD.findall(script.read_text()))


def test_every_asset_has_a_meta_with_its_own_guid_and_no_meta_is_orphaned():
    missing = [str(p.relative_to(PACKAGE)) for p in assets() if not Path(f"{p}.meta").exists()]
    assert not missing, f"run `python -m tests.test_unity_package` to write them: {missing}"
    guids = [meta_guid(p) for p in assets()]
    assert all(re.fullmatch(r"[0-9a-f]{32}", g) for g in guids)
    assert len(set(guids)) == len(guids), "two assets share a GUID"
    orphans = [m for m in PACKAGE.rglob("*.meta") if not Path(str(m)[: -len(".meta")]).exists()]
    assert not orphans


def test_the_follow_scene_references_only_its_objects_and_the_packages_components():
    objects = scene_objects(SCENE.read_text())
    scripts = {meta_guid(p): p for p in assets() if p.suffix == ".cs"}
    used = set()
    for _class_id, kind, fields in objects.values():
        assert set(file_ids(fields)) <= {0, *objects}, f"a {kind} names an object not in the scene"
        if kind != "MonoBehaviour":
            continue
        script = scripts[fields["m_Script"]["guid"]]
        unknown = {k for k in fields if not k.startswith("m_")} - public_fields(script)
        assert not unknown, f"{script.name} has no public field {unknown}"
        used.add(script.stem)
    assert {"SynthTwinClient", "PoseDriver"} <= used
    driver = next(f for _, kind, f in objects.values() if kind == "MonoBehaviour" and "twinId" in f)
    assert objects[driver["client"]["fileID"]][2]["m_Script"]["guid"] == meta_guid(
        PACKAGE / "Runtime" / "Unity" / "SynthTwinClient.cs"
    )


if __name__ == "__main__":
    for meta in write_missing_metas():
        print(meta.relative_to(PACKAGE))
