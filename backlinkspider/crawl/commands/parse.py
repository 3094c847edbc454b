"""``scrapy parse --spider=backlinks URL``: Scrapy prints items through itemadapter, which cannot rebuild
the ``Link`` named tuples of a ``Page`` (a traceback); this prints each item as plain data instead."""

from __future__ import annotations

import dataclasses
from typing import Any

from scrapy.commands.parse import Command as ScrapyParse


class Command(ScrapyParse):
    def add_items(self, lvl: int, new_items: list[Any]) -> None:
        super().add_items(lvl, [plain(item) for item in new_items])


def plain(value: Any) -> Any:
    """Dataclasses and named tuples as dicts, all the way down; anything else as it is."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
