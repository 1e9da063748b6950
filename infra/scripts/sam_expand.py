#!/usr/bin/env python3
"""Expand a SAM template into plain CloudFormation JSON with aws-sam-translator, offline.

The translator only needs a region and partition (for ARNs it builds) and a managed-policy
map (for policies named by name); both are given here so that it makes no AWS call.

Usage: sam_expand.py template.yaml > expanded.json
"""

import json
import os
import sys

# Keep boto3 from reading profiles or reaching IMDS: everything it could look up is given.
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

import boto3  # noqa: E402
from samtranslator.parser.parser import Parser  # noqa: E402
from samtranslator.translator.translator import Translator  # noqa: E402
from samtranslator.yaml_helper import yaml_parse  # noqa: E402

# Managed policies the translator may attach by name. Only X-Ray's (added for Tracing: Active)
# and the basic execution role are used; the template names no other managed policy.
MANAGED_POLICIES = {
    "AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "AWSXrayWriteOnlyAccess": "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
}


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: sam_expand.py TEMPLATE", file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        sam = yaml_parse(f.read())
    # `sam build` and `sam package` swap local CodeUri folders for S3 objects before the
    # transform runs; do the same with a placeholder so that the translator accepts it.
    for logical_id, res in sam.get("Resources", {}).items():
        props = res.get("Properties") or {}
        if res.get("Type") == "AWS::Serverless::Function" and isinstance(props.get("CodeUri", "."), str):
            if not str(props.get("CodeUri", ".")).startswith("s3://"):
                props["CodeUri"] = f"s3://offline-placeholder/{logical_id}.zip"
    session = boto3.session.Session(
        aws_access_key_id="offline",
        aws_secret_access_key="offline",
        region_name="us-east-1",
    )
    translator = Translator(MANAGED_POLICIES, Parser(), boto_session=session)
    cfn = translator.translate(sam, parameter_values={}, get_managed_policy_map=lambda: MANAGED_POLICIES)
    json.dump(cfn, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
