"""Prepares the local AWS (moto) for Hanko: switches state-machine execution on, creates
the intake queue and the example state machine from infra/, a rule on the default event bus
that sends Hanko's events (source "hanko") to the queue hanko-events, and starts the example
executions from infra/examples/executions.json. Prints the queues' URLs as JSON."""

import json
import os
import sys
import time
import urllib.request
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent
endpoint = os.environ["AWS_ENDPOINT_URL"]


def post_json(url, body):
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json"},
    )
    return urllib.request.urlopen(req, timeout=10).read()


def main():
    # Must come before the state machine is created.
    post_json(f"{endpoint}/moto-api/config", {"stepfunctions": {"execute_state_machine": True}})
    sqs = boto3.client("sqs", endpoint_url=endpoint)
    sfn = boto3.client("stepfunctions", endpoint_url=endpoint)
    queue_url = sqs.create_queue(QueueName="hanko-intake")["QueueUrl"]
    asl = (ROOT / "infra/example-state-machine.asl.json").read_text()
    arn = sfn.create_state_machine(
        name="hanko-example",
        definition=asl.replace("${IntakeQueueUrl}", queue_url),
        roleArn="arn:aws:iam::123456789012:role/hanko-example",
    )["stateMachineArn"]
    # Hanko's EventBridge events, as an example rule of the README would take them.
    events_url = sqs.create_queue(QueueName="hanko-events")["QueueUrl"]
    events_arn = sqs.get_queue_attributes(QueueUrl=events_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events = boto3.client("events", endpoint_url=endpoint)
    events.put_rule(Name="hanko-events", EventPattern=json.dumps({"source": ["hanko"]}))
    events.put_targets(Rule="hanko-events", Targets=[{"Id": "queue", "Arn": events_arn}])
    examples = json.loads((ROOT / "infra/examples/executions.json").read_text())
    stamp = time.strftime("%H%M%S")
    for ex in examples:
        sfn.start_execution(stateMachineArn=arn, name=f"{ex['name']}-{stamp}", input=json.dumps(ex["input"]))
    print(json.dumps({"queueUrl": queue_url, "stateMachineArn": arn, "eventsQueueUrl": events_url}))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # a clear message rather than a traceback
        print(f"seed-local: {e}", file=sys.stderr)
        sys.exit(1)
