"""The alarms and the dashboard of infra/template.yaml watch figures that exist:

1. the metric catalogue of backend/server/src/metrics.rs (name, unit, dimension) is read,
   and each metric in it is written somewhere in the server's code (not only declared);
2. every alarm on the functions' own namespace (HANKO_METRICS_NAMESPACE, Hanko/<stack>)
   names a metric of the catalogue, with dimensions it is written with; every other alarm
   watches an AWS metric of a resource of this stack (Lambda Errors/Throttles of one of
   the four functions, the dead-letter queue's depth);
3. the alarms the runbook (docs/operations.md) describes are all there, each goes to the
   alarm topic, and the runbook has a section for each;
4. every Hanko metric the dashboard shows is in the catalogue, with its dimension.

Usage: alarms.py. Exits non-zero on the first thing that is wrong."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import cfn
from moto_stack import expect, fail

ROOT = cfn.INFRA.parent
SERVER = ROOT / "backend/server/src"
METRICS_RS = SERVER / "metrics.rs"
RUNBOOK = ROOT / "docs/operations.md"

FUNCTIONS = {"ApiFunction", "IntakeQueueFunction", "IntakeFunction", "SweeperFunction"}
# AWS's own metrics an alarm may watch, and the dimension naming the stack's resource.
AWS_METRICS = {
    ("AWS/Lambda", "Errors"): "FunctionName",
    ("AWS/Lambda", "Throttles"): "FunctionName",
    ("AWS/SQS", "ApproximateNumberOfMessagesVisible"): "QueueName",
}
# Alarm -> the runbook section (anchor) that says what to do.
RUNBOOK_SECTIONS = {
    "intake-dead-letter-queue",
    "undelivered-decision",
    "api-5xx-rate",
    "failed-notifications",
    "function-errors",
    "function-throttles",
}

CONST = re.compile(
    r"pub const (?P<const>[A-Z0-9_]+): Metric = Metric \{\s*"
    r'name: "(?P<name>[A-Za-z0-9]+)",\s*'
    r"unit: Unit::(?P<unit>[A-Za-z]+),\s*"
    r'dimension: (?:Some\("(?P<dimension>[A-Za-z]+)"\)|None),\s*'
    r"total: (?P<total>true|false),\s*\}",
)


def catalogue() -> dict[str, dict[str, Any]]:
    """Metric name -> unit and dimension sets, from metrics.rs; each one used in the code."""
    src = METRICS_RS.read_text(encoding="utf-8")
    found = {m.group("const"): m for m in CONST.finditer(src)}
    expect(len(found) >= 10, f"metrics.rs declares {len(found)} metrics in the catalogue's shape")
    listed = re.search(r"pub const CATALOGUE: &\[Metric\] = &\[(?P<body>[^\]]*)\];", src)
    if not listed:
        fail("metrics.rs has no CATALOGUE")
    names = set(re.findall(r"[A-Z0-9_]+", listed.group("body")))
    expect(names == set(found), "CATALOGUE lists every metric constant of metrics.rs, and only those")
    # The code that writes them: every .rs file of the server, less metrics.rs's tests and
    # its declarations.
    code = []
    for path in sorted(SERVER.rglob("*.rs")):
        text = path.read_text(encoding="utf-8")
        if path == METRICS_RS:
            text = text.split("#[cfg(test)]", 1)[0]
            text = CONST.sub("", text).replace(listed.group(0), "")
        code.append(text)
    code_text = "\n".join(code)
    out = {}
    for const, m in found.items():
        if not re.search(rf"\b{const}\b", code_text):
            fail(f"metric {m.group('name')} ({const}) is declared but nothing writes it")
        dim = m.group("dimension")
        sets = [[]] if dim is None else ([[dim], []] if m.group("total") == "true" else [[dim]])
        out[m.group("name")] = {"unit": m.group("unit"), "sets": sets}
    ok_names = ", ".join(sorted(out))
    print(f"check-infra: ok: every metric of the catalogue is written by the server: {ok_names}")
    return out


def hanko_namespace(t: dict[str, Any]) -> Any:
    env = t["Globals"]["Function"]["Environment"]["Variables"]
    ns = env.get("HANKO_METRICS_NAMESPACE")
    expect(ns == {"Fn::Sub": "Hanko/${AWS::StackName}"}, "the functions write their metrics to Hanko/<stack>")
    return ns


def alarm_metrics(props: dict[str, Any]) -> list[dict[str, Any]]:
    """The metrics an alarm reads: its own, or those of its metric math."""
    if "MetricName" in props:
        return [{k: props.get(k) for k in ("Namespace", "MetricName", "Dimensions")}]
    out = []
    for q in props.get("Metrics", []):
        if "MetricStat" in q:
            out.append(q["MetricStat"]["Metric"])
        elif "Expression" not in q:
            fail(f"a metric query that is neither a metric nor an expression: {q}")
    return out


def check_hanko_metric(where: str, name: str, dims: list[str], cat: dict[str, dict[str, Any]]) -> None:
    if name not in cat:
        fail(f"{where} watches {name}, which the server never writes (not in metrics.rs)")
    if sorted(dims) not in [sorted(s) for s in cat[name]["sets"]]:
        fail(f"{where} reads {name} with dimensions {dims}; it is written with {cat[name]['sets']}")


def check_alarms(t: dict[str, Any], cat: dict[str, dict[str, Any]], ns: Any) -> set[str]:
    res: dict[str, Any] = t["Resources"]
    alarms = {lid: r["Properties"] for lid, r in res.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    watched: set[str] = set()
    anchors: set[str] = set()
    for lid, props in alarms.items():
        reads = alarm_metrics(props)
        if not reads:
            fail(f"{lid} reads no metric")
        for m in reads:
            name = m["MetricName"]
            dims = m.get("Dimensions") or []
            if m["Namespace"] == ns:
                check_hanko_metric(lid, name, [d["Name"] for d in dims], cat)
                watched.add(name)
                continue
            key = (m["Namespace"], name)
            if key not in AWS_METRICS:
                fail(f"{lid} watches {key}, neither a Hanko metric nor one of {sorted(AWS_METRICS)}")
            want = AWS_METRICS[key]
            if [d["Name"] for d in dims] != [want]:
                fail(f"{lid}: {name} needs exactly the {want} dimension")
            value = dims[0]["Value"]
            target = value.get("Ref") or (value.get("Fn::GetAtt") or [None])[0]
            if want == "FunctionName" and target not in FUNCTIONS:
                fail(f"{lid} watches {value}, not one of the four functions")
            if want == "QueueName" and value != {"Fn::GetAtt": ["IntakeDeadLetterQueue", "QueueName"]}:
                fail(f"{lid} watches {value}, not the intake dead-letter queue")
            watched.add(f"{name}:{target}")
        for key in ("AlarmActions", "OKActions"):
            if props.get(key) != [{"Ref": "AlarmTopic"}]:
                fail(f"{lid}: {key} must be the alarm topic")
        desc = props.get("AlarmDescription")
        text = json.dumps(desc)
        m = re.search(r"docs/operations\.md#([a-z0-9-]+)", text)
        if not m:
            fail(f"{lid}: its description names no runbook section (docs/operations.md#...)")
        anchors.add(m.group(1))
    print(f"check-infra: ok: {len(alarms)} alarms, each on a metric the server writes or an AWS metric of this stack")
    need = {"OldestUndeliveredDecisionAge", "Api5xx", "ApiRequests", "NotificationsFailed",
            "ApproximateNumberOfMessagesVisible:IntakeDeadLetterQueue"}
    need |= {f"{m}:{f}" for m in ("Errors", "Throttles") for f in FUNCTIONS}
    missing = need - watched
    expect(not missing, f"the alarms the runbook describes are all there (missing: {sorted(missing)})")
    expect(anchors == RUNBOOK_SECTIONS, f"the alarms point at the runbook's sections {sorted(RUNBOOK_SECTIONS)}")
    sub = res.get("AlarmEmailSubscription", {})
    expect(
        sub.get("Condition") == "HasAlarmEmail"
        and sub.get("Properties", {}).get("TopicArn") == {"Ref": "AlarmTopic"}
        and sub.get("Properties", {}).get("Endpoint") == {"Ref": "AlarmEmail"},
        "AlarmEmail, when given, is subscribed to the alarm topic",
    )
    return anchors


def check_runbook(anchors: set[str]) -> None:
    text = RUNBOOK.read_text(encoding="utf-8")
    have = {re.sub(r"[^a-z0-9 -]", "", h.strip().lower()).replace(" ", "-")
            for h in re.findall(r"^#+ (.+)$", text, re.M)}
    missing = anchors - have
    expect(not missing, f"docs/operations.md has a section for every alarm (missing: {sorted(missing)})")


def check_dashboard(t: dict[str, Any], cat: dict[str, dict[str, Any]]) -> None:
    body = t["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    ns = "Hanko/${AWS::StackName}"
    filled = re.sub(r"\$\{[A-Za-z0-9:.]+\}", "0", body.replace(ns, "HANKO_NS"))
    doc = json.loads(filled)
    shown = 0
    for w in doc["widgets"]:
        for row in w.get("properties", {}).get("metrics", []):
            if not row or not isinstance(row[0], str) or row[0] != "HANKO_NS":
                continue
            parts = [p for p in row if isinstance(p, str)]
            name, dims = parts[1], parts[2::2]
            check_hanko_metric("the dashboard", name, dims, cat)
            shown += 1
        text = json.dumps(w)
        for name in re.findall(r'MetricName=\\*"([A-Za-z0-9]+)', text):
            check_hanko_metric("the dashboard's search", name, ["Route"], cat)
    expect(shown >= 10, f"the dashboard shows {shown} Hanko figures, each one the server writes")


def main() -> None:
    t = cfn.load_template(cfn.INFRA / "template.yaml")
    cat = catalogue()
    ns = hanko_namespace(t)
    anchors = check_alarms(t, cat, ns)
    check_runbook(anchors)
    check_dashboard(t, cat)


if __name__ == "__main__":
    sys.exit(main())
