"""moto_server (same arguments: -H, -p, ...) with its DynamoDB made serial: one lock held
by every DynamoDB request and backend operation, so that requests to DynamoDB run one at
a time while every other service keeps moto's threads. moto's own DynamoDB is not
isolated under concurrency: transact_write_items checks its conditions and applies its
writes with no lock, and a cancelled transaction "rolls back" by restoring a copy of the
whole table taken when it began, erasing what other clients committed meanwhile. One at a
time is the serializable isolation DynamoDB gives transactions (and the atomic single-item
reads and writes it gives the rest). Written for moto 5.2.5 (scripts/setup-run.sh); a name it
wraps that a moto upgrade removed or moved stops it before it serves anything."""

import functools
import sys
import threading

import moto
import moto.server
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.responses import DynamoHandler

# The backend's operations on items. In 5.2.5 the last three are empty stubs (their logic
# is in DynamoHandler, which calls get_item, put_item and delete_item); they are wrapped
# anyway, so that if moto moves their logic into the backend it runs under the lock.
BACKEND_OPERATIONS = (
    "transact_write_items",
    "put_item",
    "update_item",
    "delete_item",
    "get_item",
    "query",
    "scan",
    "batch_write_item",
    "batch_get_item",
    "transact_get_items",
)

# A whole DynamoDB request, from its parsing to its serialized answer. The backend's
# operations alone are not enough: UpdateItem and PutItem read the old item for
# ReturnValues=ALL_OLD in a call of their own before the write, TransactGetItems and
# BatchGetItem read item by item, and Query and Scan answer with the stored items'
# attribute maps, serialized after the backend returns, which a later UpdateItem changes
# in place.
HANDLER_OPERATIONS = ("call_action",)

LOCK = threading.RLock()


def serialized(cls, name):
    original = vars(cls).get(name)
    if not callable(original):
        sys.exit(
            f"moto-serial-dynamodb: moto {moto.__version__} has no {cls.__name__}.{name}; "
            "its DynamoDB would run unlocked. Check the names in this script against "
            "moto/dynamodb/ and the version in scripts/setup-run.sh."
        )

    @functools.wraps(original)
    def locked(*args, **kwargs):
        with LOCK:
            return original(*args, **kwargs)

    setattr(cls, name, locked)


for operation in BACKEND_OPERATIONS:
    serialized(DynamoDBBackend, operation)
for operation in HANDLER_OPERATIONS:
    serialized(DynamoHandler, operation)

if __name__ == "__main__":
    moto.server.main(sys.argv[1:])
