"""Reading documents (`.md`, `.txt`, `.html`, `.pdf`) into titled sections."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import List, Optional, Sequence, Text, Tuple

from bilingual_assistant.errors import DocumentError
from bilingual_assistant.knowledge.access import readers_of
from bilingual_assistant.text import strip_markup, text_units

SUPPORTED_SUFFIXES = (".md", ".markdown", ".txt", ".html", ".htm", ".pdf")
MAX_PDF_PAGES = 2000
MAX_TEXT_CHARS = 5_000_000  # a PDF's extracted text


@dataclass(frozen=True)
class Section:
    """A heading (may be empty) and the text under it."""

    heading: Text
    text: Text


@dataclass(frozen=True)
class Document:
    """A readable document.

    Attributes:
        source: its path relative to the knowledge folder, with `/` separators.
        title: its title (first heading, `<title>`, or the file name).
        sections: its text, section by section.
        content_hash: sha256 of the raw file bytes, and of its groups when it has
            any; a change means re-indexing.
        readers: the groups that may read it (`knowledge/access.py`); empty:
            everyone.
    """

    source: Text
    title: Text
    sections: List[Section] = field(default_factory=list)
    content_hash: Text = ""
    readers: Tuple[Text, ...] = ()

    @property
    def text(self) -> Text:
        """The whole text, sections separated by blank lines."""
        return "\n\n".join(
            "\n".join(p for p in (s.heading, s.text) if p) for s in self.sections
        )


_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def _markdown_sections(text: Text) -> Tuple[Optional[Text], List[Section]]:
    title: Optional[Text] = None
    sections: List[Section] = []
    heading, lines = "", []  # type: Text, List[Text]
    for line in text.splitlines():
        match = _MD_HEADING.match(line)
        if match:
            if title is None and len(match.group(1)) == 1:
                title = match.group(2)
                continue
            if "".join(lines).strip():
                sections.append(Section(heading, "\n".join(lines).strip()))
            heading, lines = match.group(2), []
        else:
            lines.append(line)
    if "".join(lines).strip():
        sections.append(Section(heading, "\n".join(lines).strip()))
    return title, sections


# A plain-text heading: a paragraph of one short line with no closing punctuation
# ("Reporting sickness", "带薪病假天数"). Read as body text, it was glued to the next
# sentence ("Reporting sickness If you cannot work ...") and chosen as an answer.
_TEXT_HEADING_CHARS = 60
_TEXT_HEADING_UNITS = 10
_CLOSING = tuple(".。!！?？:：;；,，、")


def _is_text_heading(paragraph: Text) -> bool:
    line = paragraph.strip()
    return (bool(line) and "\n" not in line and len(line) <= _TEXT_HEADING_CHARS
            and text_units(line) <= _TEXT_HEADING_UNITS and not line.endswith(_CLOSING))


def _text_sections(text: Text) -> Tuple[Optional[Text], List[Section]]:
    """The first line is the title; a short one-line paragraph without closing
    punctuation starts a section."""
    lines = text.strip().splitlines()
    if not lines:
        return None, []
    title = lines[0].strip()
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", "\n".join(lines[1:])) if p.strip()]
    sections: List[Section] = []
    heading, body = "", []  # type: Text, List[Text]
    for i, paragraph in enumerate(paragraphs):
        # Only before text: a short last line or two short lines in a row are text.
        following = paragraphs[i + 1] if i + 1 < len(paragraphs) else ""
        if _is_text_heading(paragraph) and following and not _is_text_heading(following):
            if body:
                sections.append(Section(heading, "\n\n".join(body)))
            heading, body = paragraph, []
        else:
            body.append(paragraph)
    if body:
        sections.append(Section(heading, "\n\n".join(body)))
    return title, sections


_HIDDEN_STYLE = re.compile(r"(display\s*:\s*none|visibility\s*:\s*hidden)", re.IGNORECASE)
# Elements whose content is never shown as text.
_NOT_TEXT = {"script", "style", "template", "noscript"}
# Elements that have no end tag: they cannot hide what follows them.
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
         "source", "track", "wbr"}


def _hides(tag: Text, attrs: List[Tuple[Text, Optional[Text]]]) -> bool:
    """Whether an element is hidden from readers (its text is not indexed)."""
    values = {name.lower(): (value or "") for name, value in attrs}
    return (
        tag in _NOT_TEXT
        or "hidden" in values
        or values.get("aria-hidden", "").lower() == "true"
        or bool(_HIDDEN_STYLE.search(values.get("style", "")))
    )


class _HtmlText(HTMLParser):
    """Collects `<title>`, headings and block text a reader sees: scripts, styles
    and hidden elements (`hidden`, `aria-hidden`, `display:none`) are skipped, and
    markup spelt with entities (`&lt;script&gt;`) is dropped once decoded."""

    BLOCKS = {"p", "li", "tr", "div", "section", "article", "br", "table", "ul", "ol"}
    HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.h1 = ""
        self.sections: List[Section] = []
        self._heading = ""
        self._lines: List[Text] = []
        self._current: List[Text] = []
        self._stack: List[Text] = []
        # Depth in `_stack` at which a hidden element starts (None: nothing hidden).
        self._hidden_from: Optional[int] = None

    def handle_starttag(self, tag: Text, attrs: List[Tuple[Text, Optional[Text]]]) -> None:
        if self._hidden_from is not None:
            if tag not in _VOID:
                self._stack.append(tag)
            return
        if tag in self.BLOCKS or tag in self.HEADINGS:
            self._flush_line()
        if tag in ("td", "th"):
            self._current.append(" ")
        if tag in _VOID:
            return
        if self._hidden_from is None and _hides(tag, attrs):
            self._hidden_from = len(self._stack)
        self._stack.append(tag)

    def handle_endtag(self, tag: Text) -> None:
        if self._hidden_from is not None:
            self._pop(tag)
            return
        if tag in self.HEADINGS:
            text = " ".join("".join(self._current).split())
            self._current = []
            if tag == "h1" and not self.h1:
                self.h1 = text
            else:
                self._flush_section()
                self._heading = text
        elif tag in self.BLOCKS:
            self._flush_line()
        self._pop(tag)

    def _pop(self, tag: Text) -> None:
        if tag in self._stack:
            while self._stack and self._stack.pop() != tag:
                pass
        if self._hidden_from is not None and len(self._stack) <= self._hidden_from:
            self._hidden_from = None

    def handle_data(self, data: Text) -> None:
        if self._hidden_from is not None:
            return
        data = strip_markup(data)
        if self._stack and self._stack[-1] == "title":
            self.title += data
            return
        self._current.append(data)

    def _flush_line(self) -> None:
        line = " ".join("".join(self._current).split())
        if line:
            self._lines.append(line)
        self._current = []

    def _flush_section(self) -> None:
        self._flush_line()
        if self._lines:
            self.sections.append(Section(self._heading, "\n".join(self._lines)))
        self._lines = []

    def finish(self) -> None:
        self._flush_section()


def _html_sections(text: Text) -> Tuple[Optional[Text], List[Section]]:
    parser = _HtmlText()
    parser.feed(text)
    parser.close()
    parser.finish()
    title = " ".join(parser.title.split()) or parser.h1 or None
    return title, parser.sections


def _pdf_sections(path: Path) -> Tuple[Optional[Text], List[Section]]:
    try:
        from pypdf import PdfReader
        from pypdf.errors import LimitReachedError, PyPdfError
    except ImportError as error:  # pragma: no cover - the actions environment has it
        raise DocumentError(f"{path}: reading PDF needs the 'pypdf' package.") from error
    # Only text is read: a PDF's scripts, forms and attachments are never run or
    # opened. A compressed stream that would expand past pypdf's limit (75 MB), more
    # pages or more text than any handbook has, is refused, not read to the end.
    try:
        reader = PdfReader(str(path))
        if len(reader.pages) > MAX_PDF_PAGES:
            raise DocumentError(f"{path}: {len(reader.pages)} pages, more than the "
                                f"{MAX_PDF_PAGES} read; split the document.")
        pages, size = [], 0
        for page in reader.pages:
            pages.append(page.extract_text() or "")
            size += len(pages[-1])
            if size > MAX_TEXT_CHARS:
                raise DocumentError(f"{path}: more than {MAX_TEXT_CHARS:,} characters of "
                                    f"text; split the document.")
        meta_title = (reader.metadata or {}).get("/Title") if reader.metadata else None
    except LimitReachedError as error:
        raise DocumentError(f"{path}: a part of it expands beyond what is read "
                            f"({error}); is it a compression bomb?") from error
    except (PyPdfError, ValueError, KeyError, OSError, RecursionError) as error:
        raise DocumentError(f"{path}: not a readable PDF ({error}).") from error
    sections = [
        Section(f"p. {number}", text.strip())
        for number, text in enumerate(pages, start=1)
        if text.strip()
    ]
    first_line = sections[0].text.splitlines()[0].strip() if sections else None
    return (str(meta_title) if meta_title else first_line), sections


def read_document(path: Path, root: Path) -> Document:
    """Reads one document.

    Args:
        path: the file.
        root: the knowledge folder; `source` is relative to it.

    Returns:
        The document with its sections.

    Raises:
        DocumentError: for an unsupported, unreadable, undecodable or empty file, or
            an access file beside it that cannot be read.
    """
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DocumentError(
            f"{path}: unsupported file type '{suffix}' "
            f"(supported: {', '.join(SUPPORTED_SUFFIXES)})."
        )
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DocumentError(f"{path}: cannot be read ({error.strerror}).") from error
    if suffix == ".pdf":
        title, sections = _pdf_sections(path)
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise DocumentError(
                f"{path}: not UTF-8 text (byte {error.start}); save it as UTF-8."
            ) from error
        if suffix in (".html", ".htm"):
            title, sections = _html_sections(text)
        elif suffix == ".txt":
            title, sections = _text_sections(text)
        else:
            title, sections = _markdown_sections(text)
    if not sections:
        raise DocumentError(f"{path}: holds no text to index.")
    try:
        source = path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        source = path.name
    readers = readers_of(path, root)
    return Document(
        source=source,
        title=title or path.stem,
        sections=sections,
        content_hash=content_hash(raw, readers),
        readers=readers,
    )


def content_hash(raw: bytes, readers: Sequence[Text] = ()) -> Text:
    """A document's version: its bytes, and its groups when it has any (so that
    naming or changing them re-indexes it; a document for everyone keeps the hash
    it had before groups existed)."""
    digest = hashlib.sha256(raw)
    if readers:
        digest.update(b"\0readers:" + ",".join(sorted(readers)).encode("utf-8"))
    return digest.hexdigest()


def find_documents(root: Path) -> List[Path]:
    """Every supported file under `root` (hidden files skipped), sorted."""
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix.lower() in SUPPORTED_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
