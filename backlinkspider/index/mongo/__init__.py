"""The cluster store: MongoDB, one document per edge (see ``documents``), sharded by target domain.

``store.MongoStore`` answers the primitives of ``index.protocols`` with finds and aggregations
(``pipelines``); ``errors`` maps the driver's errors to the store's two and sends again what a failover
refused; ``limits`` bounds every operation.
deploy/README.md describes the collections, indexes and sharding for operators.
"""

from backlinkspider.index.mongo.documents import INDEXES, document_for, update_for
from backlinkspider.index.mongo.store import MongoStore

__all__ = ["INDEXES", "MongoStore", "document_for", "update_for"]
