"""cdk-nag acknowledgements (cdk-nag 3: CDK's ``Validations.of(construct).acknowledge``).

Rules are named as cdk-nag reports them, ``<Pack>::<RuleId>[<finding>]``, e.g.
``AwsSolutions::AwsSolutions-IAM5[Resource::*]``; ``acknowledge`` adds the pack prefix.  Every
acknowledgement goes on the narrowest construct that holds the finding and carries its reason
(tests/infra check both that each one matches a real finding and that it has a reason).
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct

PACKS = ("AwsSolutions", "Serverless")


def rule_id(rule: str) -> str:
    """``AwsSolutions-L1`` → ``AwsSolutions::AwsSolutions-L1`` (the id cdk-nag asks for)."""
    pack = rule.split("-", 1)[0]
    if pack not in PACKS:
        raise ValueError(f"unknown cdk-nag pack in {rule!r}")
    return f"{pack}::{rule}"


def acknowledge(construct: IConstruct, rules: dict[str, str]) -> None:
    """Acknowledge ``{rule: reason}`` on ``construct`` (and the CloudFormation resources under it)."""
    for rule, reason in rules.items():
        if len(reason.strip()) < 40:
            raise ValueError(f"acknowledgement of {rule} needs a real reason, not {reason!r}")
    Validations.of(construct).acknowledge(
        *(Acknowledgment(id=rule_id(rule), reason=reason) for rule, reason in rules.items())
    )
