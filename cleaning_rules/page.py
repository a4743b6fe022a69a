"""The page record that flows through every stage (TFDS ``c4_utils.PageFeatures``)."""

from __future__ import annotations

import dataclasses
from typing import Optional


@dataclasses.dataclass(frozen=True, slots=True)
class Page:
    url: str = ""
    normalized_url: str = ""
    text: str = ""
    timestamp: str = ""
    content_length: str = ""
    content_type: str = ""
    language: Optional[str] = None

    def replace(self, **changes) -> "Page":
        # dataclasses.replace inspects the fields on every call; pages are replaced
        # once per stage, millions of times in a crawl
        values = {name: getattr(self, name) for name in _FIELD_NAMES}
        values.update(changes)
        return Page(**values)

    def __reduce__(self):
        # Beam pickles pages between stages; a tuple of strings is what pickle does fastest
        # (a slots dataclass's default __getstate__ looks up its fields per page)
        return Page, tuple(getattr(self, name) for name in _FIELD_NAMES)

    def to_example(self) -> dict:
        """The TFDS c4 features of this page (all text)."""
        return {
            "text": self.text,
            "url": self.url,
            "content-type": self.content_type,
            "content-length": self.content_length,
            "timestamp": self.timestamp,
        }


_FIELD_NAMES = tuple(f.name for f in dataclasses.fields(Page))
