"""What a backend builds on: ``BaseDocumentStore`` (``backends/store.py``: lifecycle,
operations, transactions, health) and ``BaseCollection`` (``backends/collection.py``: the
validated collection API), with the engine's defaults in ``backends/fallbacks.py`` and bulk
writes in ``backends/bulk.py``. Imported from here by every backend.
"""

from lexigram_nosql.backends.collection import BaseCollection, IndexSpec
from lexigram_nosql.backends.store import BaseDocumentStore, ErrorMapper, StoreState

__all__ = ["BaseCollection", "BaseDocumentStore", "ErrorMapper", "IndexSpec", "StoreState"]
