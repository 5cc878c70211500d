"""Readable text out of an HTML page or export: title, body text, canonical link, meta tags."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

# Page furniture, not the author's words.
_SKIPPED = {"script", "style", "noscript", "template", "nav", "header", "footer", "aside", "svg"}
_BLOCKS = {
    "p",
    "div",
    "section",
    "article",
    "main",
    "br",
    "li",
    "ul",
    "ol",
    "pre",
    "blockquote",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "tr",
    "table",
    "hr",
    "figure",
    "figcaption",
}
_VOID = {"br", "hr", "img", "meta", "link", "input", "source", "wbr", "area", "base", "col"}


@dataclass
class Page:
    title: str = ""
    text: str = ""
    canonical: str = ""
    meta: dict[str, str] = field(default_factory=dict)


class _Extractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self.parts: list[str] = []
        self.skip_depth = 0
        self.in_title = False
        self.in_h1 = False
        self.h1 = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {key: value or "" for key, value in attrs}
        if tag == "meta":
            name = (values.get("name") or values.get("property") or "").lower()
            if name and "content" in values:
                self.page.meta[name] = values["content"].strip()
        elif tag == "link" and "canonical" in values.get("rel", "").lower().split():
            self.page.canonical = values.get("href", "").strip()
        if tag in _VOID:
            if tag in _BLOCKS and not self.skip_depth:
                self.parts.append("\n")
            return
        if tag in _SKIPPED:
            self.skip_depth += 1
        elif tag == "title":
            self.in_title = True
        elif tag == "h1":
            self.in_h1 = True
        if tag in _BLOCKS and not self.skip_depth:
            self.parts.append("\n\n" if tag.startswith("h") or tag == "p" else "\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED and self.skip_depth:
            self.skip_depth -= 1
        elif tag == "title":
            self.in_title = False
        elif tag == "h1":
            self.in_h1 = False
        if tag in _BLOCKS and not self.skip_depth:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.page.title += data
            return
        if self.skip_depth:
            return
        if self.in_h1:
            self.h1 += data
        self.parts.append(data)


def extract(html: str) -> Page:
    parser = _Extractor()
    parser.feed(html)
    parser.close()
    page = parser.page
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    paragraphs, current = [], []
    for line in lines:
        if line:
            current.append(line)
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append(" ".join(current))
    page.text = "\n\n".join(paragraphs)
    page.title = " ".join(page.title.split()) or " ".join(parser.h1.split())
    return page
