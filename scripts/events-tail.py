"""Follows Hanko's EventBridge events for `make run` (scripts/run-local.sh): reads the SQS
queue that scripts/seed-local.py made the target of a rule on `source: ["hanko"]` (on
moto's default event bus, where `hanko serve --event-bus default` publishes), prints one
line per event and appends each whole event to .local/events.log. Usage: events-tail.py
QUEUE_URL (AWS_ENDPOINT_URL names moto).
"""

import json
import os
import sys

import boto3


def main():
    queue_url = sys.argv[1]
    sqs = boto3.client("sqs", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    while True:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=5)
        for m in got.get("Messages", []):
            event = json.loads(m["Body"])
            with open(".local/events.log", "a", encoding="utf-8") as log:
                log.write(json.dumps(event, ensure_ascii=False) + "\n")
            d = event.get("detail", {})
            who = d.get("voter") or ", ".join(d.get("approvedBy", []) + d.get("rejectedBy", []))
            what = d.get("choice") or d.get("decision") or d.get("status", "")
            print(f"event: {event.get('detail-type')} {d.get('requestId')} {what} {who}".rstrip(), flush=True)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
