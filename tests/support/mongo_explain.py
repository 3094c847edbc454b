"""What a real MongoDB server examined for the commands a store sent: each command is captured by a
command listener and run again under ``explain`` with ``executionStats`` (the manual, "explain"). Used
by the live read tests and bench/mongo_read_bench.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pymongo import monitoring

_NOT_EXPLAINED = {"lsid", "txnNumber", "startTransaction", "autocommit", "readConcern", "writeConcern"}


@dataclass
class Captured(monitoring.CommandListener):
    """The read commands (find, aggregate, count) a client sent, while ``on``."""

    commands: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    on: bool = False

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.on and event.command_name in ("find", "aggregate", "count"):
            command = {
                k: v for k, v in event.command.items() if not k.startswith("$") and k not in _NOT_EXPLAINED
            }
            self.commands.append((event.database_name, command))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@dataclass(frozen=True)
class Explained:
    keys: int
    docs: int
    blocking_sort: bool
    plan: str


def explained(client: Any, database: str, command: dict[str, Any]) -> Explained:
    """The keys and documents ``command`` examines and whether its plan sorts in memory."""
    reply = client[database].command({"explain": command, "verbosity": "executionStats"})
    stats = _first(reply, lambda d: "totalKeysExamined" in d and "totalDocsExamined" in d) or {}
    text = str(reply.get("queryPlanner", reply))
    return Explained(
        int(stats.get("totalKeysExamined", 0)),
        int(stats.get("totalDocsExamined", 0)),
        "'stage': 'SORT'" in text,
        text,
    )


def _first(doc: Any, wanted: Any) -> dict[str, Any] | None:
    """The shallowest mapping in ``doc`` that is ``wanted`` (a sharded explain nests its shards')."""
    level = [doc]
    while level:
        for item in level:
            if isinstance(item, dict) and wanted(item):
                return item
        level = [
            child
            for item in level
            for child in (item.values() if isinstance(item, dict) else item if isinstance(item, list) else [])
        ]
    return None
