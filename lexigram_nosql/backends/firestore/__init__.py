"""The Firestore backend (google-cloud-firestore's AsyncClient); see docs/backends/firestore.md.

Importing this package does not import the client library: the store imports it when it
connects.
"""

from lexigram_nosql.backends.firestore.store import FirestoreDocumentStore, FirestoreTransaction

__all__ = ["FirestoreDocumentStore", "FirestoreTransaction"]
