"""The template loader: what ``Template`` provisions, resolves and lists, checked against moto."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
import yaml
from moto import mock_aws

from infra.local.cfn import CfnLoader, Cors, Job, Template, TemplateError
from tests.localstack import FIXTURES, REPO_ROOT

TEMPLATE = FIXTURES / "template.yaml"
ECHO = (FIXTURES / "functions" / "echo").resolve()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.Session]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.Session(region_name="eu-central-1")


def test_short_form_intrinsics_load_as_their_long_form():
    document = yaml.load(
        """
        a: !Ref Stage
        b: !GetAtt Table.Arn
        c: !Sub "x-${Stage}"
        d: !If [IsProd, !Join ["-", [a, b]], !Select [0, [x]]]
        e: !Equals [!Ref Stage, prod]
        f: !Condition IsProd
        g: !GetAtt [Key, Arn]
        """,
        Loader=CfnLoader,
    )
    assert document == {
        "a": {"Ref": "Stage"},
        "b": {"Fn::GetAtt": ["Table", "Arn"]},
        "c": {"Fn::Sub": "x-${Stage}"},
        "d": {"Fn::If": ["IsProd", {"Fn::Join": ["-", ["a", "b"]]}, {"Fn::Select": [0, ["x"]]}]},
        "e": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]},
        "f": {"Condition": "IsProd"},
        "g": {"Fn::GetAtt": ["Key", "Arn"]},
    }


def test_provision_creates_the_table_with_its_gsi_and_ttl(aws: boto3.Session):
    physical = Template.load(TEMPLATE).provision(aws)
    assert physical["Table"] == "fixture-test"
    dynamodb = aws.client("dynamodb")
    table = dynamodb.describe_table(TableName="fixture-test")["Table"]
    assert table["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    (index,) = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "gsi1"
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["gsi1pk", "gsi1sk"]
    assert index["Projection"] == {"ProjectionType": "ALL"}
    ttl = dynamodb.describe_time_to_live(TableName="fixture-test")["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "ttl"}


def test_provision_creates_the_kms_key_and_alias(aws: boto3.Session):
    physical = Template.load(TEMPLATE).provision(aws)
    kms = aws.client("kms")
    key = kms.describe_key(KeyId=physical["Key"])["KeyMetadata"]
    assert key["Description"] == "Fixture test key"
    assert kms.get_key_rotation_status(KeyId=physical["Key"])["KeyRotationEnabled"] is True
    aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
    assert aliases["alias/fixture-test"] == physical["Key"]
    assert physical["KeyAlias"] == "alias/fixture-test"


def test_the_sender_is_verified_and_conditional_identities_follow_their_condition(aws: boto3.Session):
    physical = Template.load(TEMPLATE).provision(aws)
    ses = aws.client("ses")
    assert ses.list_verified_email_addresses()["VerifiedEmailAddresses"] == ["sender@fixture.example"]
    assert "SenderIdentity" not in physical
    assert "identity.fixture.example" not in ses.list_identities()["Identities"]


def test_a_true_condition_creates_the_identity(aws: boto3.Session):
    physical = Template.load(TEMPLATE, {"CreateSenderIdentity": "true"}).provision(aws)
    assert physical["SenderIdentity"] == "identity.fixture.example"
    assert "identity.fixture.example" in aws.client("ses").list_identities()["Identities"]


def test_conditions_skip_resources_routes_and_jobs(aws: boto3.Session):
    test = Template.load(TEMPLATE)
    assert "ProdOnlyTable" not in test.provision(aws)
    assert "GET /prod-only" not in {route.route_key for route in test.routes()}
    assert "prod-only" not in {job.name for job in test.jobs()}
    assert (test.condition("IsNotProd"), test.condition("ProdWithIdentity")) == (True, False)

    prod = Template.load(TEMPLATE, {"Stage": "prod"})
    physical = prod.provision(aws)
    assert physical["ProdOnlyTable"] == "fixture-prod-prod-only"
    table = aws.client("dynamodb").describe_table(TableName="fixture-prod")["Table"]
    assert table["DeletionProtectionEnabled"] is True
    assert "GET /prod-only" in {route.route_key for route in prod.routes()}
    assert "prod-only" in {job.name for job in prod.jobs()}
    assert prod.condition("ProdOrIdentity") is True


def test_environment_resolves_ref_sub_getatt_and_friends(aws: boto3.Session):
    template = Template.load(TEMPLATE)
    physical = template.provision(aws)
    key_arn = aws.client("kms").describe_key(KeyId=physical["Key"])["KeyMetadata"]["Arn"]
    table_arn = aws.client("dynamodb").describe_table(TableName="fixture-test")["Table"]["TableArn"]
    assert template.environment() == {
        "TABLE_NAME": "fixture-test",
        "KEY_ID": physical["Key"],
        "KEY_ARN": key_arn,
        "INDEX_ARN": f"{table_arn}/index/*",
        "SENDER_EMAIL": "sender@fixture.example",
        "STACK_INFO": "test:eu-central-1:123456789012:aws",
        "LITERAL": "${NotAVariable}",
        "JOINED": "echo-test",
        "SELECTED": "one",
        "MODE": "development",
        "FLAG": "true",
        "FUNCTION_ROLE": "global",
    }
    assert template.environment("EchoFunction")["FUNCTION_ROLE"] == "echo"
    assert template.environment("JobsFunction")["FUNCTION_ROLE"] == "jobs"
    assert template.environment("JobsFunction")["TABLE_NAME"] == "fixture-test"


def test_parameters_override_defaults_and_if_drops_no_value(aws: boto3.Session):
    template = Template.load(TEMPLATE, {"Stage": "prod", "SenderEmail": "ops@fixture.example"})
    template.provision(aws)
    environment = template.environment()
    assert (environment["MODE"], environment["OPTIONAL"]) == ("production", "present")
    assert environment["SENDER_EMAIL"] == "ops@fixture.example"
    verified = aws.client("ses").list_verified_email_addresses()["VerifiedEmailAddresses"]
    assert verified == ["ops@fixture.example"]


def test_environment_before_provision_is_an_error():
    with pytest.raises(TemplateError, match="provision"):
        Template.load(TEMPLATE).environment()


@pytest.mark.parametrize(
    ("parameters", "message"),
    [({"Nope": "x"}, "unknown parameters: Nope"), ({"Stage": "qa"}, "not one of")],
)
def test_invalid_parameters_are_refused(parameters: dict[str, str], message: str):
    with pytest.raises(TemplateError, match=message):
        Template.load(TEMPLATE, parameters)


def test_routes_list_every_http_api_event():
    routes = Template.load(TEMPLATE).routes()
    assert {route.route_key for route in routes} == {
        "GET /echo/{name}",
        "GET /echo/static",
        "POST /echo",
        "ANY /anything/{proxy+}",
        "GET /sleep",
        "POST /email",
        "POST /sms",
        "PUT /items/{id}",
        "GET /items/{id}",
        "POST /encrypt",
        "GET /time",
        "GET /binary",
        "GET /boom",
        "GET /garbage",
        "GET /plain",
        "GET /crash",
        "GET /too-slow",
    }
    assert {(route.function_id, route.code_uri, route.handler) for route in routes} == {
        ("EchoFunction", ECHO, "app.lambda_handler"),
        ("SlowFunction", ECHO, "app.lambda_handler"),
    }


def test_jobs_are_named_by_their_input():
    assert Template.load(TEMPLATE).jobs() == [
        Job("demo", "JobsFunction", ECHO, "app.job_handler", {"job": "demo"}),
        Job("nightly", "JobsFunction", ECHO, "app.job_handler", {"job": "nightly", "batch": 10}),
    ]


def test_functions_get_globals_and_cors_comes_from_the_http_api():
    template = Template.load(TEMPLATE)
    echo = template.function("EchoFunction")
    assert (echo.name, echo.memory_mb, echo.timeout_s) == ("fixture-test-echo", 256, 5.0)
    jobs = template.function("JobsFunction")
    assert (jobs.name, jobs.timeout_s) == ("portico-local-JobsFunction", 30.0)
    assert template.cors() == Cors(
        allow_origins=("http://localhost:5173",),
        allow_methods=("GET", "POST"),
        allow_headers=("content-type", "authorization"),
        expose_headers=("X-Echo",),
        max_age=600,
        allow_credentials=False,
    )


def test_the_repository_template_provisions_and_resolves(aws: boto3.Session):
    template = Template.load(REPO_ROOT / "template.yaml")
    physical = template.provision(aws)
    environment = template.environment()
    for name, value in environment.items():
        assert "${" not in value, f"{name} was not resolved: {value}"
    assert {"Table", "Key"} <= set(physical)
    assert template.routes(), "the API has routes"
