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
        return dataclasses.replace(self, **changes)

    def to_example(self) -> dict:
        """The TFDS c4 features of this page (all text)."""
        return {
            "text": self.text,
            "url": self.url,
            "content-type": self.content_type,
            "content-length": self.content_length,
            "timestamp": self.timestamp,
        }
