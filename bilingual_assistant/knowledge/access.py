"""Who may read which document: the groups a document names (from access files
beside it) and the groups a person is in (`Reader`).

A document with no groups is everyone's. Groups are named in YAML files in the
knowledge folder, never in the document itself:

- `<document>.access.yml` beside a document (`pay.md.access.yml`) names its groups;
- `.access.yml` in a folder names the groups of every document in it and in the
  folders inside it, unless a nearer `.access.yml` or a document's own file says
  otherwise.

Each holds `groups: [hr, managers]`; `groups: []` makes the documents everyone's
again. A reader may read a document when the document has no groups or they share
one; an administrator (and the single user of local mode) reads everything.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, FrozenSet, Iterable, Mapping, Optional, Sequence, Text, Tuple

import yaml

from bilingual_assistant.errors import ConfigurationError, DocumentError, InputError

FOLDER_FILE = ".access.yml"
DOCUMENT_SUFFIX = ".access.yml"
# A group is a name an identity provider sends (`hr`, `Engineering`, an Entra ID
# object id, `team:payroll`): letters, digits and `_ . : @ -`, case kept.
GROUP = re.compile(r"^[\w.:@-]{1,128}$", re.UNICODE)
MAX_GROUPS = 50
READER_KEY = "reader"  # the message metadata that carries the asker's groups


def check_groups(raw: Any, where: Text) -> Tuple[Text, ...]:
    """Groups as given (a list, or a comma- or space-separated string), checked,
    sorted and without repeats.

    Raises:
        InputError: for something that is not a list of group names.
    """
    if raw is None:
        return ()
    if isinstance(raw, str):
        raw = [part for part in re.split(r"[,\s]+", raw) if part]
    if not isinstance(raw, (list, tuple, set, frozenset)):
        raise InputError(f"{where}: groups must be a list of names, such as [hr, managers].")
    names = set()
    for name in raw:
        if not isinstance(name, str) or not GROUP.match(name):
            raise InputError(
                f"{where}: {name!r} is not a group name (letters, digits and _ . : @ -, "
                f"at most 128 characters).")
        names.add(name)
    if len(names) > MAX_GROUPS:
        raise InputError(f"{where}: at most {MAX_GROUPS} groups.")
    return tuple(sorted(names))


@dataclass(frozen=True)
class Reader:
    """Who is asking, as far as documents go.

    Attributes:
        groups: the groups they are in.
        everything: reads every document (administrators, local mode).
    """

    groups: FrozenSet[Text] = frozenset()
    everything: bool = False

    def may_read(self, readers: Sequence[Text]) -> bool:
        """Whether they may read a document whose groups are `readers`."""
        return self.everything or not readers or bool(self.groups.intersection(readers))

    @property
    def scope(self) -> Text:
        """What their answers depend on, short enough for a cache key: `all`,
        `public` (no group), or a digest of the groups."""
        if self.everything:
            return "all"
        if not self.groups:
            return "public"
        return "g" + hashlib.sha256("\n".join(sorted(self.groups)).encode()).hexdigest()[:20]

    def to_metadata(self) -> Dict[Text, Any]:
        """The wire form a channel puts in a message's metadata (`READER_KEY`)."""
        return {"groups": sorted(self.groups), "everything": self.everything}

    @classmethod
    def from_metadata(cls, metadata: Optional[Mapping[Text, Any]]) -> Optional[Reader]:
        """The reader a channel put in a message's metadata, or None when there is
        none or it is malformed (the caller then falls back to what it knows)."""
        value = (metadata or {}).get(READER_KEY)
        if not isinstance(value, dict):
            return None
        try:
            groups = check_groups(value.get("groups") or [], "reader")
        except InputError:
            return None
        return cls(frozenset(groups), value.get("everything") is True)


EVERYONE = Reader()  # reads the documents that name no groups
EVERYTHING = Reader(everything=True)


def _groups_in(path: Path) -> Optional[Tuple[Text, ...]]:
    """The groups an access file names, or None when there is no such file.

    Raises:
        DocumentError: for a file that cannot be read or holds no `groups` list.
    """
    if not path.is_file():
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise DocumentError(f"{path}: cannot be read as YAML ({error}).") from error
    if not isinstance(data, dict) or "groups" not in data:
        raise DocumentError(f"{path}: must hold `groups: [names]` (`groups: []` for "
                            "everyone).")
    try:
        return check_groups(data["groups"] or [], str(path))
    except InputError as error:
        raise DocumentError(str(error)) from error


def readers_of(path: Path, root: Path) -> Tuple[Text, ...]:
    """The groups that may read the document at `path` (empty: everyone).

    Args:
        path: the document.
        root: the knowledge folder; access files above it do not count.

    Raises:
        DocumentError: for an access file that cannot be read (the document is then
            not indexed rather than indexed for everyone).
    """
    own = _groups_in(path.with_name(path.name + DOCUMENT_SUFFIX))
    if own is not None:
        return own
    root = root.resolve()
    folder = path.resolve().parent
    while True:
        named = _groups_in(folder / FOLDER_FILE)
        if named is not None:
            return named
        if folder == root or root not in folder.parents:
            return ()
        folder = folder.parent


def write_readers(path: Path, groups: Iterable[Text]) -> Optional[Path]:
    """Names the groups of one document in its own access file (written whole, then
    renamed into place); no groups removes the file (the folder's decide again).

    Returns:
        The access file, or None when it was removed.
    """
    names = check_groups(list(groups), path.name)
    target = path.with_name(path.name + DOCUMENT_SUFFIX)
    if not names:
        target.unlink(missing_ok=True)
        return None
    staged = target.with_name(f".{target.name}.tmp")
    staged.write_text(yaml.safe_dump({"groups": list(names)}, allow_unicode=True),
                      encoding="utf-8")
    staged.replace(target)
    return target


PLATFORMS = ("slack:", "telegram:", "wecom:")


class PlatformGroups:
    """The groups of people who write on Slack, Telegram or WeCom, whose channels
    vouch for who they are but not for their groups: patterns of their conversation
    ids, each with groups (`PLATFORM_GROUPS_FILE`).

    The file maps patterns (`*` matches anything) to groups; a person gets the
    groups of every pattern their conversation id matches, and no groups when none
    does::

        slack:T0123ABC:*:U0456DEF: [hr]      # slack:<team>:<channel>:<user>
        telegram:*:123456789: [hr, finance]  # telegram:<chat>:<user>
        wecom:*:zhangsan: [finance]          # wecom:<agent>:<user>
    """

    def __init__(self, rules: Sequence[Tuple[Text, Tuple[Text, ...]]] = ()) -> None:
        """Raises:
            ConfigurationError: for a pattern that is not a platform's.
        """
        for pattern, _ in rules:
            if not pattern.startswith(PLATFORMS):
                raise ConfigurationError(
                    f"PLATFORM_GROUPS_FILE: {pattern!r} is not a Slack, Telegram or WeCom "
                    f"conversation id pattern; start it with {', '.join(PLATFORMS)}.")
        self.rules = tuple(rules)

    @classmethod
    def load(cls, path: Optional[Path]) -> PlatformGroups:
        """The mapping in a YAML file; none (no rules) for no path.

        Raises:
            ConfigurationError: for a file that cannot be read or holds something else.
        """
        if path is None:
            return cls()
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            raise ConfigurationError(
                f"PLATFORM_GROUPS_FILE: {path} cannot be read as YAML ({error}).") from error
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise ConfigurationError(
                f"PLATFORM_GROUPS_FILE: {path} must map conversation id patterns to lists "
                "of groups, such as `telegram:*:123456789: [hr]`.")
        try:
            rules = [(str(pattern), check_groups(groups or [], f"{path}: {pattern}"))
                     for pattern, groups in data.items()]
        except InputError as error:
            raise ConfigurationError(f"PLATFORM_GROUPS_FILE: {error}") from error
        return cls(rules)

    def reader_of(self, sender_id: Text) -> Reader:
        """The groups of the person writing in conversation `sender_id`."""
        groups = {group for pattern, named in self.rules
                  if fnmatch.fnmatchcase(sender_id, pattern) for group in named}
        return Reader(frozenset(groups))


def readers_of_all(readers: Iterable[Sequence[Text]]) -> Tuple[Text, ...]:
    """The groups whose people may read every one of these documents (given by
    their groups): what text drawn from all of them may be shown to (a curated
    answer written from an answer's sources). Empty: everyone.

    Raises:
        InputError: when no one group may read them all (name the groups yourself).
    """
    restricted = [frozenset(r) for r in readers if r]
    if not restricted:
        return ()
    common = frozenset.intersection(*restricted)
    if not common:
        raise InputError(
            "No one group may read all of these documents: name the groups that may see "
            "this answer (`groups`).")
    return tuple(sorted(common))
