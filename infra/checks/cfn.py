"""Shared by the infra checks: read a CloudFormation/SAM YAML template (short-form
intrinsic tags such as !Ref and !Sub included) into plain JSON-like data, and turn the SAM
template into CloudFormation with aws-sam-translator."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import yaml

INFRA = Path(__file__).resolve().parent.parent

# Where the checks pretend `sam package` put the function code (a dummy zip in the test copy).
ARTIFACT_BUCKET = "hanko-check-artifacts"
ARTIFACT_KEY = "hanko-lambda.zip"


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads CloudFormation's short-form intrinsics."""


def _intrinsic(tag: str):
    name = "Ref" if tag == "Ref" else ("Condition" if tag == "Condition" else f"Fn::{tag}")

    def construct(loader: yaml.Loader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if tag == "GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    return construct


for _tag in [
    "Ref", "Condition", "GetAtt", "Sub", "If", "Not", "Equals", "And", "Or", "Join",
    "Select", "Split", "FindInMap", "Base64", "Cidr", "ImportValue", "GetAZs",
]:
    _Loader.add_constructor(f"!{_tag}", _intrinsic(_tag))


def load_template(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)


def packaged_copy(sam: dict[str, Any]) -> dict[str, Any]:
    """What `sam build && sam package` would hand to CloudFormation, for the checks only:
    function code at a dummy S3 location, state machine definitions read from their files."""
    t = copy.deepcopy(sam)
    for res in t["Resources"].values():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::Serverless::Function":
            props["CodeUri"] = f"s3://{ARTIFACT_BUCKET}/{ARTIFACT_KEY}"
            res.pop("Metadata", None)
        elif res["Type"] == "AWS::Serverless::StateMachine" and "DefinitionUri" in props:
            asl = INFRA / props.pop("DefinitionUri")
            props["Definition"] = json.loads(asl.read_text(encoding="utf-8"))
    return t


class _NoIamLookups:
    """aws-sam-translator asks IAM for managed policy names it does not know; the template
    names none, so nothing is looked up."""

    def load(self) -> dict[str, str]:
        return {}


def transform(sam: dict[str, Any], region: str = "ap-northeast-1") -> dict[str, Any]:
    from samtranslator.translator.transform import transform as sam_transform

    os.environ.setdefault("AWS_DEFAULT_REGION", region)
    return sam_transform(packaged_copy(sam), {}, _NoIamLookups())  # type: ignore[arg-type]


if __name__ == "__main__":
    # Prints the CloudFormation that aws-sam-translator makes of infra/template.yaml.
    import sys

    json.dump(transform(load_template(INFRA / "template.yaml")), sys.stdout, indent=1)
    sys.stdout.write("\n")
