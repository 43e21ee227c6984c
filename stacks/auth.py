"""Auth ``jwt``: the Cognito user pool whose ID tokens the API accepts, and API Gateway's authorizer.

The stack creates a pool and an app client, or uses an existing pool (``imgpipe:userPoolArn``,
stacks/context.py) whose app clients the application already has.  Every API method then requires a
valid ID token in ``Authorization`` (the authorizer checks signature, issuer, expiry and that an app
client of the pool issued it) and hands its claims to the API function, which scopes every record to
the token's ``sub``.  No API key in this mode: a browser app cannot keep one secret, and the stage
throttle still applies.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from imgpipe import topology

from .context import AccessOptions, DeployOptions
from .nag import acknowledge

AUTHORIZER_CACHE_TTL = Duration.minutes(5)  # API Gateway's default; a revoked token lives this long at most
ID_TOKEN_VALIDITY = Duration.hours(1)
REFRESH_TOKEN_VALIDITY = Duration.days(30)


class Auth(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, options: DeployOptions, access: AccessOptions) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)

        self.user_pool: cognito.IUserPool
        self.client: cognito.UserPoolClient | None = None
        if access.user_pool_arn:
            self.user_pool = cognito.UserPool.from_user_pool_arn(self, "UserPool", access.user_pool_arn)
        else:
            pool = cognito.UserPool(
                self,
                "UserPool",
                user_pool_name=f"{stack.stack_name}-users",
                # Users are invited by an administrator (or by the application's own back end);
                # an open sign-up would let anyone mint tokens for this API.
                self_sign_up_enabled=False,
                sign_in_aliases=cognito.SignInAliases(username=True, email=True),
                sign_in_case_sensitive=False,
                password_policy=cognito.PasswordPolicy(
                    min_length=topology.USER_POOL_PASSWORD_MIN_LENGTH,
                    require_lowercase=True,
                    require_uppercase=True,
                    require_digits=True,
                    require_symbols=True,
                    temp_password_validity=Duration.days(3),
                ),
                mfa=cognito.Mfa.OPTIONAL,
                mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),  # TOTP apps; no SMS role
                account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
                deletion_protection=not options.destroy,
                removal_policy=RemovalPolicy.DESTROY if options.destroy else RemovalPolicy.RETAIN,
            )
            self.user_pool = pool
            self.client = pool.add_client(
                "AppClient",
                user_pool_client_name=f"{stack.stack_name}-app",
                generate_secret=False,  # a browser or mobile app cannot keep a client secret
                # SRP for applications (the password never leaves the device); admin password auth
                # for an operator with IAM credentials trying the API (docs/deploy.md).
                auth_flows=cognito.AuthFlow(user_srp=True, admin_user_password=True),
                prevent_user_existence_errors=True,
                enable_token_revocation=True,
                id_token_validity=ID_TOKEN_VALIDITY,
                access_token_validity=ID_TOKEN_VALIDITY,
                refresh_token_validity=REFRESH_TOKEN_VALIDITY,
            )
            self._acknowledge(pool)

        self.authorizer = apigw.CognitoUserPoolsAuthorizer(
            self,
            "Authorizer",
            cognito_user_pools=[self.user_pool],
            authorizer_name=f"{stack.stack_name}-users",
            results_cache_ttl=AUTHORIZER_CACHE_TTL,
        )

    def _acknowledge(self, pool: cognito.UserPool) -> None:
        acknowledge(
            pool,
            {
                "AwsSolutions-COG2": "MFA is optional (TOTP) rather than required: the pool signs in the end users "
                "of whatever application uses this API, and whether they must enrol a second factor is that "
                "application's decision; one that needs it sets MFA to required or brings its own pool "
                "(imgpipe:userPoolArn).",
                "AwsSolutions-COG8": "Essentials tier, not Plus: Plus's threat protection is billed per monthly "
                "active user, a cost this pipeline should not impose by default; an application that wants it "
                "upgrades the pool or brings its own (imgpipe:userPoolArn).",
            },
        )
