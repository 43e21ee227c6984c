"""Delivery "cdn" (CloudFront in front of renditions/ only) and auth "jwt" (the Cognito authorizer)
in the synthesized template; the jwt variant is synthesized once, with a custom CDN domain."""

from __future__ import annotations

import json
from typing import Any

import pytest
from infra_support import CDN_CERTIFICATE_ARN, CDN_DOMAIN, Synth

from imgpipe import config
from imgpipe.config import SettingsError
from stacks.context import AccessOptions


def distribution_config(synth: Synth) -> dict[str, Any]:
    (distribution,) = synth.resources("AWS::CloudFront::Distribution").values()
    config_: dict[str, Any] = distribution["Properties"]["DistributionConfig"]
    return config_


def distribution_id(synth: Synth) -> str:
    (logical_id,) = synth.resources("AWS::CloudFront::Distribution")
    return logical_id


def renditions_behavior(synth: Synth) -> dict[str, Any]:
    (behavior,) = distribution_config(synth)["CacheBehaviors"]
    assert behavior["PathPattern"] == "renditions/*"
    return behavior


def cloudfront_statements(synth: Synth) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for policy in synth.resources("AWS::S3::BucketPolicy").values():
        bucket = policy["Properties"]["Bucket"]["Ref"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if "cloudfront" in json.dumps(statement.get("Principal", {})):
                found.append((bucket, statement))
    return found


def output_bucket_id(synth: Synth) -> str:
    return synth.logical_id(synth.stack.storage.output_bucket)


def base_url(synth: Synth, props: dict[str, Any]) -> Any:
    return props["Environment"]["Variables"][config.ENV_RENDITIONS_BASE_URL]


# ---- delivery "cdn" (the default) ------------------------------------------------------------------
def test_the_distribution_reads_the_output_bucket_through_an_origin_access_control(synth: Synth) -> None:
    (origin,) = distribution_config(synth)["Origins"]
    assert origin["DomainName"] == {"Fn::GetAtt": [output_bucket_id(synth), "RegionalDomainName"]}
    (oac_id, oac), *_ = synth.resources("AWS::CloudFront::OriginAccessControl").items()
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": [oac_id, "Id"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}  # no legacy OAI
    settings = oac["Properties"]["OriginAccessControlConfig"]
    assert (settings["OriginAccessControlOriginType"], settings["SigningBehavior"]) == ("s3", "always")


def test_the_bucket_policy_lets_only_this_distribution_get_only_renditions(synth: Synth) -> None:
    (bucket, statement), *others = cloudfront_statements(synth)
    assert others == [] and bucket == output_bucket_id(synth)
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert statement["Action"] == "s3:GetObject"  # no ListBucket: a missing key is a 403, never a listing
    assert statement["Resource"] == {
        "Fn::Join": ["", [{"Fn::GetAtt": [output_bucket_id(synth), "Arn"]}, "/renditions/*"]]
    }
    source = json.dumps(statement["Condition"]["StringEquals"]["AWS:SourceArn"])
    assert ":distribution/" in source and json.dumps({"Ref": distribution_id(synth)}) in source


def test_only_renditions_reach_the_bucket_every_other_path_is_refused_at_the_edge(synth: Synth) -> None:
    default = distribution_config(synth)["DefaultCacheBehavior"]
    (association,) = default["FunctionAssociations"]
    assert association["EventType"] == "viewer-request"
    function_id = association["FunctionARN"]["Fn::GetAtt"][0]
    code = synth.resource(function_id)["Properties"]["FunctionCode"]
    assert "statusCode: 404" in code and "request" not in code.split("return", 1)[1]
    assert default["AllowedMethods"] == ["GET", "HEAD"]
    assert renditions_behavior(synth)["AllowedMethods"] == ["GET", "HEAD"]


def test_https_only_and_compression(synth: Synth) -> None:
    config_ = distribution_config(synth)
    assert config_["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    assert renditions_behavior(synth)["ViewerProtocolPolicy"] == "redirect-to-https"
    assert renditions_behavior(synth)["Compress"] is True
    assert config_["HttpVersion"] == "http2and3"


def test_the_cache_policy_keys_on_the_path_and_honours_the_renditions_immutable_max_age(synth: Synth) -> None:
    from functions.watermark.logic import CACHE_CONTROL

    assert CACHE_CONTROL == config.RENDITION_CACHE_CONTROL  # what the renditions carry
    policy_id = renditions_behavior(synth)["CachePolicyId"]["Ref"]
    policy = synth.resource(policy_id)["Properties"]["CachePolicyConfig"]
    assert policy["MinTTL"] == 0 and policy["MaxTTL"] >= config.RENDITION_MAX_AGE_S
    key = policy["ParametersInCacheKeyAndForwardedToOrigin"]
    assert key["QueryStringsConfig"]["QueryStringBehavior"] == "none"
    assert key["CookiesConfig"]["CookieBehavior"] == "none"
    assert key["HeadersConfig"]["HeaderBehavior"] == "none"
    assert key["EnableAcceptEncodingGzip"] and key["EnableAcceptEncodingBrotli"]


def test_the_response_headers_policy_adds_nosniff_hsts_and_cors(synth: Synth) -> None:
    policy_id = renditions_behavior(synth)["ResponseHeadersPolicyId"]["Ref"]
    policy = synth.resource(policy_id)["Properties"]["ResponseHeadersPolicyConfig"]
    security = policy["SecurityHeadersConfig"]
    assert security["ContentTypeOptions"] == {"Override": True}
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 365 * 24 * 3600
    cors = policy["CorsConfig"]
    assert cors["AccessControlAllowOrigins"] == {"Items": ["*"]}
    assert cors["AccessControlAllowCredentials"] is False


def test_access_logs_go_to_a_private_bucket_that_takes_cloudfronts_acl_grants(synth: Synth) -> None:
    logging = distribution_config(synth)["Logging"]
    log_bucket_id = logging["Bucket"]["Fn::GetAtt"][0]
    props = synth.resource(log_bucket_id)["Properties"]
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]}
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert props["LoggingConfiguration"]["DestinationBucketName"] == {
        "Ref": synth.logical_id(synth.stack.storage.access_logs)
    }
    assert logging["IncludeCookies"] is False


def test_every_function_builds_rendition_urls_on_the_distributions_https_name(synth: Synth) -> None:
    expected = {"Fn::Join": ["", ["https://", {"Fn::GetAtt": [distribution_id(synth), "DomainName"]}]]}
    functions = synth.resources("AWS::Lambda::Function").values()
    stack_functions = [f for f in functions if f["Properties"].get("FunctionName", "").startswith("Imgpipe-")]
    assert stack_functions and all(base_url(synth, f["Properties"]) == expected for f in stack_functions)
    assert synth.template["Outputs"]["RenditionsBaseUrl"]["Value"] == expected


def test_api_key_mode_has_no_user_pool_and_no_authorizer(synth: Synth) -> None:
    assert synth.resources("AWS::Cognito::UserPool") == {}
    assert synth.resources("AWS::ApiGateway::Authorizer") == {}


# ---- auth "jwt", with a custom CDN domain -----------------------------------------------------------
def test_jwt_every_method_takes_a_cognito_id_token_instead_of_an_api_key(jwt_synth: Synth) -> None:
    (authorizer_id, authorizer), *_ = jwt_synth.resources("AWS::ApiGateway::Authorizer").items()
    props = authorizer["Properties"]
    (pool_id,) = jwt_synth.resources("AWS::Cognito::UserPool")
    assert props["Type"] == "COGNITO_USER_POOLS"
    assert props["ProviderARNs"] == [{"Fn::GetAtt": [pool_id, "Arn"]}]
    assert props["IdentitySource"] == "method.request.header.Authorization"
    methods = [m["Properties"] for m in jwt_synth.resources("AWS::ApiGateway::Method").values()]
    routed = [m for m in methods if m["HttpMethod"] != "OPTIONS"]
    assert {m["HttpMethod"] for m in routed} >= {"GET"} and len(routed) == len(config.API_ROUTES)
    for method in routed:
        assert method["AuthorizationType"] == "COGNITO_USER_POOLS"
        assert method["AuthorizerId"] == {"Ref": authorizer_id}
        assert not method.get("ApiKeyRequired")
    for preflight in (m for m in methods if m["HttpMethod"] == "OPTIONS"):
        assert preflight.get("AuthorizationType", "NONE") == "NONE"  # a browser's preflight has no token
    assert jwt_synth.resources("AWS::ApiGateway::ApiKey") == {}
    assert jwt_synth.resources("AWS::ApiGateway::UsagePlan") == {}
    outputs = jwt_synth.template["Outputs"]
    assert {"UserPoolId", "UserPoolClientId"} <= set(outputs) and "ApiKeyId" not in outputs


def test_jwt_the_api_function_knows_the_mode_at_run_time(jwt_synth: Synth) -> None:
    functions = jwt_synth.resources("AWS::Lambda::Function").values()
    (api,) = [f for f in functions if f["Properties"].get("FunctionName") == "Imgpipe-api"]
    settings = json.loads(api["Properties"]["Environment"]["Variables"][config.ENV_SETTINGS])
    assert settings["auth"] == "jwt" and settings["delivery"] == "cdn"


def test_jwt_the_user_pool_is_invite_only_with_a_strong_password_policy(jwt_synth: Synth) -> None:
    (pool,) = jwt_synth.resources("AWS::Cognito::UserPool").values()
    props = pool["Properties"]
    assert props["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    policy = props["Policies"]["PasswordPolicy"]
    assert policy["MinimumLength"] >= 12
    assert all(policy[k] for k in ("RequireLowercase", "RequireUppercase", "RequireNumbers", "RequireSymbols"))
    assert props["DeletionProtection"] == "ACTIVE"
    (client,) = jwt_synth.resources("AWS::Cognito::UserPoolClient").values()
    flows = set(client["Properties"]["ExplicitAuthFlows"])
    assert client["Properties"]["GenerateSecret"] is False  # browser and mobile apps cannot keep one
    assert "ALLOW_USER_SRP_AUTH" in flows and "ALLOW_USER_PASSWORD_AUTH" not in flows
    assert client["Properties"]["PreventUserExistenceErrors"] == "ENABLED"


def test_jwt_variant_custom_domain_has_its_certificate_and_tls_1_2(jwt_synth: Synth) -> None:
    config_ = distribution_config(jwt_synth)
    assert config_["Aliases"] == [CDN_DOMAIN]
    assert config_["ViewerCertificate"] == {
        "AcmCertificateArn": CDN_CERTIFICATE_ARN,
        "MinimumProtocolVersion": "TLSv1.2_2021",
        "SslSupportMethod": "sni-only",
    }
    functions = jwt_synth.resources("AWS::Lambda::Function").values()
    (api,) = [f for f in functions if f["Properties"].get("FunctionName") == "Imgpipe-api"]
    assert base_url(jwt_synth, api["Properties"]) == f"https://{CDN_DOMAIN}"


def test_jwt_variant_passes_cdk_nag_and_cfn_lint(jwt_synth: Synth) -> None:
    from cfnlint.api import ManualArgs, lint_file

    # jwt_synth's app.synth() raises on any unacknowledged cdk-nag finding; the report confirms.
    report = json.loads((jwt_synth.outdir / "validation-report.json").read_text())
    assert [r["conclusion"] for r in report["pluginReports"]] == ["success", "success"]
    acknowledged = {s["acknowledgedId"] for r in report["pluginReports"] for s in r.get("suppressedViolations", [])}
    assert "AwsSolutions::AwsSolutions-CFR4" not in acknowledged  # TLS 1.2 with the custom certificate
    matches = lint_file(jwt_synth.template_path, config=ManualArgs(regions=["us-east-1", "eu-west-1"]))
    assert [f"{m.rule.id} {m.message}" for m in matches if m.rule.severity == "error"] == []


# ---- context ---------------------------------------------------------------------------------------
def test_access_context_defaults_to_nothing_and_normalises_the_domain() -> None:
    assert AccessOptions.from_values(None, None, None) == AccessOptions()
    options = AccessOptions.from_values("Img.Example.Test.", CDN_CERTIFICATE_ARN, None)
    assert options.cdn_domain == "img.example.test"


@pytest.mark.parametrize(
    ("domain", "certificate", "pool", "message"),
    [
        ("img.example.test", None, None, "go together"),
        (None, CDN_CERTIFICATE_ARN, None, "go together"),
        ("not a host", CDN_CERTIFICATE_ARN, None, "host name"),
        ("img.example.test", CDN_CERTIFICATE_ARN.replace("us-east-1", "eu-west-1"), None, "us-east-1"),
        (None, None, "arn:aws:s3:::bucket", "user pool ARN"),
    ],
)
def test_invalid_access_context_is_refused_before_any_resource(
    domain: Any, certificate: Any, pool: Any, message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        AccessOptions.from_values(domain, certificate, pool)


def test_an_existing_user_pool_arn_is_accepted() -> None:
    arn = "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_AbC123xyz"
    assert AccessOptions.from_values(None, None, arn).user_pool_arn == arn
