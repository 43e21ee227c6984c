"""cdk-nag (AwsSolutions + Serverless) and cfn-lint on the synthesized stack."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk
from infra_support import Synth

# cfn-lint warnings accepted on CDK output: W3005 flags the explicit DependsOn CDK adds from a
# function to its role although Role's GetAtt already orders them.  Anything else fails.
ACCEPTED_CFN_LINT_WARNINGS = {"W3005"}


def acknowledgements(app: Any) -> list[tuple[str, str, str]]:
    """(construct path, rule id, reason) of every acknowledgement recorded in the construct tree."""
    key = aws_cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    found = []
    for construct in app.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == key:
                found += [(construct.node.path, rule, reason) for rule, reason in entry.data.items()]
    return found


def nag_report(synth: Synth) -> dict[str, Any]:
    return json.loads((synth.outdir / "validation-report.json").read_text())


def suppressed(synth: Synth) -> list[dict[str, Any]]:
    return [s for plugin in nag_report(synth)["pluginReports"] for s in plugin.get("suppressedViolations", [])]


def test_synth_runs_both_nag_packs_and_reports_no_unacknowledged_finding(synth: Synth) -> None:
    # The session fixture's app.synth() raises on any unacknowledged finding; the report confirms.
    assert {plugin.name for plugin in synth.app.policy_validation_beta1} == {"AwsSolutions", "Serverless"}
    reports = {r["pluginName"]: r for r in nag_report(synth)["pluginReports"]}
    assert set(reports) == {"AwsSolutions", "Serverless"}
    for report in reports.values():
        assert report["conclusion"] == "success"
        assert report["violations"] == []


def test_every_acknowledgement_carries_a_reason(synth: Synth) -> None:
    found = acknowledgements(synth.app)
    assert found
    for path, rule, reason in found:
        assert rule.split("::", 1)[0] in ("AwsSolutions", "Serverless"), (path, rule)
        assert len(reason.split()) >= 10, (path, rule, reason)
    for finding in suppressed(synth):
        assert finding["reason"] and len(finding["reason"].split()) >= 10, finding["acknowledgedId"]


def test_every_acknowledgement_suppresses_a_real_finding(synth: Synth) -> None:
    """No stale or misplaced acknowledgement: each one recorded in the construct tree silenced at
    least one finding of that rule at that construct (or below it)."""
    used = {(s["acknowledgedAt"], s["acknowledgedId"]) for s in suppressed(synth)}
    made = {(path, rule) for path, rule, _ in acknowledgements(synth.app)}
    assert made and made == used


def test_cfn_lint_reports_no_errors(synth: Synth) -> None:
    from cfnlint.api import ManualArgs, lint_file

    matches = lint_file(synth.template_path, config=ManualArgs(regions=["us-east-1", "eu-west-1", "ap-southeast-2"]))
    problems = [f"{m.rule.id} {m.message}" for m in matches if m.rule.id not in ACCEPTED_CFN_LINT_WARNINGS]
    assert problems == []
    assert all(m.rule.severity == "warning" for m in matches)
