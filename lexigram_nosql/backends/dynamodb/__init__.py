"""The DynamoDB backend (aioboto3): one table per collection, reads planned as
GetItem/BatchGetItem/Query/Scan, writes guarded by conditions, transactions as
TransactWriteItems. aioboto3 is imported only when a store connects."""

from lexigram_nosql.backends.dynamodb.collection import DynamoCollection
from lexigram_nosql.backends.dynamodb.planner import Plan, PlanStats
from lexigram_nosql.backends.dynamodb.store import DynamoDocumentStore

__all__ = ["DynamoCollection", "DynamoDocumentStore", "Plan", "PlanStats"]
