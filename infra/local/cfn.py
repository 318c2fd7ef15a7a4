"""Read the SAM template the way CloudFormation would, for the local stack and the tests.

``template.yaml`` is the single description of the system: the local stack and the integration
tests build their tables, keys, routes, schedules and environment from it, so code and infra
cannot drift apart. This module loads the YAML (short-form intrinsics included), evaluates
``Conditions``, resolves intrinsics (``Ref``, ``Fn::Sub``, ``Fn::GetAtt``, ``Fn::If``, ...)
against parameters and the physical ids of what :meth:`Template.provision` created, applies
SAM's ``Globals`` and lists the HTTP routes and scheduled jobs.

It does not implement CloudFormation: only what running the functions locally needs. Anything it
cannot resolve raises :class:`TemplateError` with the logical id, rather than guessing.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import yaml

REGION = "eu-central-1"
ACCOUNT_ID = "123456789012"  # moto's default account
PARTITION = "aws"
URL_SUFFIX = "amazonaws.com"
STACK_NAME = "portico-local"
SENDER_PARAMETER = "SenderEmail"
"""A parameter of this name is an address the functions send from: it is verified in SES."""


class TemplateError(Exception):
    """The template cannot be read or resolved; the message names the offending item."""


class _NoValue:
    """``AWS::NoValue``: the property it is assigned to disappears."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()


# ---------------------------------------------------------------------------------- YAML


class CfnLoader(yaml.SafeLoader):
    """A SafeLoader that turns CloudFormation short tags into their long (JSON) form.

    ``!Ref X`` becomes ``{"Ref": "X"}``, ``!GetAtt A.B`` becomes ``{"Fn::GetAtt": ["A", "B"]}``,
    ``!Condition C`` becomes ``{"Condition": "C"}`` and every other ``!Name`` becomes
    ``{"Fn::Name": ...}``, whatever YAML node (scalar, sequence, mapping) follows the tag.
    """


def _construct_intrinsic(loader: CfnLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        resource, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [resource, attribute]}
    return {f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _construct_intrinsic)


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Parse a CloudFormation YAML file into plain dicts and lists."""
    with open(path, encoding="utf-8") as stream:
        document = yaml.load(stream, Loader=CfnLoader)
    if not isinstance(document, dict) or "Resources" not in document:
        raise TemplateError(f"{path}: not a CloudFormation template (no Resources)")
    return document


# ---------------------------------------------------------------------------------- model


@dataclass(frozen=True)
class Function:
    """An ``AWS::Serverless::Function`` with SAM's Globals applied."""

    function_id: str
    name: str
    code_uri: Path
    handler: str
    memory_mb: int
    timeout_s: float


@dataclass(frozen=True)
class Route:
    """One ``HttpApi`` event: ``method`` is upper case (``ANY`` included), ``path`` as declared."""

    method: str
    path: str
    function_id: str
    code_uri: Path
    handler: str

    @property
    def route_key(self) -> str:
        """The ``routeKey`` API Gateway puts in the event (``$default`` or ``"POST /signup"``)."""
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


@dataclass(frozen=True)
class Consumer:
    """One ``SQS`` event of a function: the queue Lambda's event source mapping polls for it."""

    event_id: str
    function_id: str
    code_uri: Path
    handler: str
    queue_url: str
    queue_arn: str
    batch_size: int
    reports_failures: bool  # FunctionResponseTypes: [ReportBatchItemFailures]


@dataclass(frozen=True)
class Job:
    """One ``Schedule``/``ScheduleV2`` event; ``input`` is the event the function receives."""

    name: str
    function_id: str
    code_uri: Path
    handler: str
    input: dict[str, Any] | None


@dataclass(frozen=True)
class Cors:
    """The HTTP API's ``CorsConfiguration``, which API Gateway (not the functions) applies."""

    allow_origins: tuple[str, ...]
    allow_methods: tuple[str, ...]
    allow_headers: tuple[str, ...]
    expose_headers: tuple[str, ...]
    max_age: int | None
    allow_credentials: bool


# ---------------------------------------------------------------------------------- template


class Template:
    """A loaded template: parameters, conditions, resources and what was provisioned from them."""

    def __init__(self, document: dict[str, Any], directory: Path, parameters: Mapping[str, str]):
        self.document = document
        self.directory = directory
        self.region = REGION
        self.account_id = ACCOUNT_ID
        self.parameters = self._parameter_values(parameters)
        self._conditions: dict[str, bool] = {}
        self._physical: dict[str, str] = {}
        self._attributes: dict[str, dict[str, str]] = {}

    @classmethod
    def load(cls, path: str | Path = "template.yaml", parameters: dict[str, str] | None = None) -> Template:
        """Load ``path``; ``parameters`` override the template's defaults (validated like CFN)."""
        path = Path(path).resolve()
        return cls(load_yaml(path), path.parent, parameters or {})

    # ------------------------------------------------------------------ parameters, conditions

    def _parameter_values(self, overrides: Mapping[str, str]) -> dict[str, Any]:
        declared: dict[str, Any] = self.document.get("Parameters") or {}
        unknown = set(overrides) - set(declared)
        if unknown:
            raise TemplateError(f"unknown parameters: {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for name, spec in declared.items():
            if name in overrides:
                raw = str(overrides[name])
            elif "Default" in spec:
                raw = _scalar_string(spec["Default"])
            else:
                raise TemplateError(f"parameter {name} has no Default: pass a value")
            allowed = [_scalar_string(v) for v in spec.get("AllowedValues", [])]
            if allowed and raw not in allowed:
                raise TemplateError(f"parameter {name}={raw!r} is not one of {allowed}")
            pattern = spec.get("AllowedPattern")
            if pattern and name in overrides and not re.fullmatch(pattern, raw):
                raise TemplateError(f"parameter {name}={raw!r} does not match {pattern}")
            kind = str(spec.get("Type", "String"))
            is_list = kind == "CommaDelimitedList" or kind.startswith("List<")
            values[name] = [item.strip() for item in raw.split(",")] if is_list else raw
        return values

    def condition(self, name: str) -> bool:
        """The value of a named condition from the ``Conditions`` section."""
        if name not in self._conditions:
            declared = self.document.get("Conditions") or {}
            if name not in declared:
                raise TemplateError(f"unknown condition {name}")
            self._conditions[name] = self._evaluate(declared[name])
        return self._conditions[name]

    def _evaluate(self, expression: Any) -> bool:
        if isinstance(expression, bool):
            return expression
        if not isinstance(expression, dict) or len(expression) != 1:
            raise TemplateError(f"not a condition: {expression!r}")
        ((function, argument),) = expression.items()
        if function == "Condition":
            return self.condition(argument)
        if function == "Fn::Equals":
            left, right = (self.resolve(item) for item in argument)
            return _scalar_string(left) == _scalar_string(right)
        if function == "Fn::Not":
            return not self._evaluate(argument[0])
        if function == "Fn::And":
            return all(self._evaluate(item) for item in argument)
        if function == "Fn::Or":
            return any(self._evaluate(item) for item in argument)
        raise TemplateError(f"unsupported condition function {function}")

    # ------------------------------------------------------------------ resources

    def resources(self, *types: str) -> dict[str, dict[str, Any]]:
        """Resources whose Condition (if any) holds, optionally only those of ``types``."""
        found = {}
        for logical_id, resource in (self.document.get("Resources") or {}).items():
            if types and resource.get("Type") not in types:
                continue
            if "Condition" in resource and not self.condition(resource["Condition"]):
                continue
            found[logical_id] = resource
        return found

    def _resource(self, logical_id: str) -> dict[str, Any]:
        resources = self.document.get("Resources") or {}
        if logical_id not in resources:
            raise TemplateError(f"unknown resource {logical_id}")
        return resources[logical_id]

    # ------------------------------------------------------------------ intrinsics

    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic in ``value``; ``AWS::NoValue`` removes keys and items."""
        if isinstance(value, list):
            items = (self.resolve(item) for item in value)
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref" or key.startswith("Fn::"):
                return self._intrinsic(key, argument)
        resolved = ((key, self.resolve(item)) for key, item in value.items())
        return {key: item for key, item in resolved if item is not NO_VALUE}

    def _intrinsic(self, function: str, argument: Any) -> Any:
        if function == "Ref":
            return self._ref(argument)
        if function == "Fn::GetAtt":
            if isinstance(argument, str):
                argument = argument.split(".", 1)
            return self._get_att(argument[0], self.resolve(argument[1]))
        if function == "Fn::Sub":
            if isinstance(argument, list):
                return self._sub(argument[0], self.resolve(argument[1]))
            return self._sub(argument, {})
        if function == "Fn::If":
            name, when_true, when_false = argument
            return self.resolve(when_true if self.condition(name) else when_false)
        if function == "Fn::Join":
            delimiter, items = argument
            return delimiter.join(_scalar_string(item) for item in self.resolve(items))
        if function == "Fn::Select":
            index, items = self.resolve(argument)
            return items[int(index)]
        if function == "Fn::Split":
            delimiter, text = self.resolve(argument)
            return text.split(delimiter)
        if function == "Fn::FindInMap":
            mapping, top, second = self.resolve(argument)[:3]
            return (self.document.get("Mappings") or {})[mapping][top][second]
        if function == "Fn::GetAZs":
            return [f"{self.region}{zone}" for zone in "abc"]
        if function == "Fn::Base64":
            return base64.b64encode(_scalar_string(self.resolve(argument)).encode()).decode()
        if function == "Fn::ToJsonString":
            return json.dumps(self.resolve(argument), separators=(",", ":"))
        if function == "Fn::Length":
            return len(self.resolve(argument))
        if function in ("Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or"):
            return self._evaluate({function: argument})
        raise TemplateError(f"unsupported intrinsic {function}")

    def _ref(self, name: str) -> Any:
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": URL_SUFFIX,
            "AWS::StackName": STACK_NAME,
            "AWS::StackId": (
                f"arn:{PARTITION}:cloudformation:{self.region}:{self.account_id}"
                f":stack/{STACK_NAME}/00000000-0000-0000-0000-000000000000"
            ),
            "AWS::NotificationARNs": [],
        }
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        return self._physical_id(name)

    def _sub(self, text: str, variables: Mapping[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return _scalar_string(variables[name])
            if "." in name and not name.startswith("AWS::"):
                resource, attribute = name.split(".", 1)
                return _scalar_string(self._get_att(resource, attribute))
            return _scalar_string(self._ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    # ------------------------------------------------------------------ physical ids

    def _physical_id(self, logical_id: str) -> str:
        if logical_id in self._physical:
            return self._physical[logical_id]
        resource = self._resource(logical_id)
        kind = resource.get("Type", "")
        properties = resource.get("Properties") or {}
        if kind in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
            return self._function_name(logical_id, properties)
        if kind == "AWS::Logs::LogGroup":
            return _scalar_string(self.resolve(properties.get("LogGroupName", f"/{STACK_NAME}/{logical_id}")))
        if kind in ("AWS::Serverless::HttpApi", "AWS::ApiGatewayV2::Api"):
            return "local"
        if kind in _PROVISIONED_TYPES:
            raise TemplateError(f"{logical_id} ({kind}) is not provisioned: call provision() first")
        return logical_id

    def _get_att(self, logical_id: str, attribute: str) -> str:
        if attribute in self._attributes.get(logical_id, {}):
            return self._attributes[logical_id][attribute]
        kind = self._resource(logical_id).get("Type", "")
        name = self._physical_id(logical_id)
        prefix = f"arn:{PARTITION}"
        arns = {
            "AWS::Serverless::Function": f"{prefix}:lambda:{self.region}:{self.account_id}:function:{name}",
            "AWS::Lambda::Function": f"{prefix}:lambda:{self.region}:{self.account_id}:function:{name}",
            "AWS::Logs::LogGroup": f"{prefix}:logs:{self.region}:{self.account_id}:log-group:{name}:*",
        }
        if attribute == "Arn" and kind in arns:
            return arns[kind]
        raise TemplateError(f"cannot resolve Fn::GetAtt {logical_id}.{attribute} locally")

    def _function_name(self, logical_id: str, properties: Mapping[str, Any]) -> str:
        if "FunctionName" in properties:
            return _scalar_string(self.resolve(properties["FunctionName"]))
        return f"{STACK_NAME}-{logical_id}"

    # ------------------------------------------------------------------ provisioning

    def provision(self, session: boto3.Session | None = None) -> dict[str, str]:
        """Create the template's tables, KMS keys and aliases and SES identities.

        Also verifies the ``SenderEmail`` parameter's address in SES whatever the condition on
        the identity resource says, so that sending works locally. Returns logical id ->
        physical id (table name, key id, alias name, identity).
        """
        session = session or boto3.Session(region_name=self.region)
        self.region = session.region_name or self.region
        for logical_id, resource in self.resources("AWS::KMS::Key").items():
            self._create_key(session, logical_id, self.resolve(resource.get("Properties") or {}))
        for logical_id, resource in self.resources("AWS::DynamoDB::Table").items():
            self._create_table(session, logical_id, self.resolve(resource.get("Properties") or {}))
        self._create_queues(session)
        for logical_id, resource in self.resources("AWS::KMS::Alias").items():
            properties = self.resolve(resource["Properties"])
            session.client("kms").create_alias(AliasName=properties["AliasName"], TargetKeyId=properties["TargetKeyId"])
            self._physical[logical_id] = properties["AliasName"]
        identities = {
            logical_id: self.resolve(resource["Properties"])["EmailIdentity"]
            for logical_id, resource in self.resources("AWS::SES::EmailIdentity").items()
        }
        ses = session.client("ses")
        for logical_id, identity in identities.items():
            self._verify_identity(ses, identity)
            self._physical[logical_id] = identity
        if SENDER_PARAMETER in self.parameters:
            self._verify_identity(ses, self.parameters[SENDER_PARAMETER])
        return dict(self._physical)

    def _create_key(self, session: boto3.Session, logical_id: str, properties: dict) -> None:
        kms = session.client("kms")
        arguments: dict[str, Any] = {
            "KeyUsage": properties.get("KeyUsage", "ENCRYPT_DECRYPT"),
            "KeySpec": properties.get("KeySpec", "SYMMETRIC_DEFAULT"),
        }
        if "Description" in properties:
            arguments["Description"] = properties["Description"]
        if "KeyPolicy" in properties:
            policy = properties["KeyPolicy"]
            arguments["Policy"] = policy if isinstance(policy, str) else json.dumps(policy)
        metadata = kms.create_key(**arguments)["KeyMetadata"]
        if _truthy(properties.get("EnableKeyRotation", False)):
            kms.enable_key_rotation(KeyId=metadata["KeyId"])
        self._physical[logical_id] = metadata["KeyId"]
        self._attributes[logical_id] = {"Arn": metadata["Arn"], "KeyId": metadata["KeyId"]}

    def _create_table(self, session: boto3.Session, logical_id: str, properties: dict) -> None:
        dynamodb = session.client("dynamodb")
        name = properties.get("TableName", f"{STACK_NAME}-{logical_id}")
        arguments: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": properties["AttributeDefinitions"],
            "KeySchema": properties["KeySchema"],
            "BillingMode": properties.get("BillingMode", "PROVISIONED"),
        }
        if arguments["BillingMode"] == "PROVISIONED":
            arguments["ProvisionedThroughput"] = _throughput(properties)
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if properties.get(key):
                indexes = copy.deepcopy(properties[key])
                if arguments["BillingMode"] == "PROVISIONED" and key.startswith("Global"):
                    for index in indexes:
                        index["ProvisionedThroughput"] = _throughput(index)
                arguments[key] = indexes
        if "StreamSpecification" in properties:
            view = properties["StreamSpecification"]["StreamViewType"]
            arguments["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": view}
        if "DeletionProtectionEnabled" in properties:
            arguments["DeletionProtectionEnabled"] = _truthy(properties["DeletionProtectionEnabled"])
        description = dynamodb.create_table(**arguments)["TableDescription"]
        ttl = properties.get("TimeToLiveSpecification")
        if ttl and _truthy(ttl.get("Enabled", False)):
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )
        self._physical[logical_id] = name
        self._attributes[logical_id] = {"Arn": description["TableArn"]}
        if "LatestStreamArn" in description:
            self._attributes[logical_id]["StreamArn"] = description["LatestStreamArn"]

    def _create_queues(self, session: boto3.Session) -> None:
        """Queues first without their redrive policies (a policy names another queue's ARN), then
        the policies and the other attributes."""
        sqs = session.client("sqs")
        queues = self.resources("AWS::SQS::Queue")
        for logical_id, resource in queues.items():
            raw = resource.get("Properties") or {}
            name = (
                _scalar_string(self.resolve(raw["QueueName"])) if "QueueName" in raw else f"{STACK_NAME}-{logical_id}"
            )
            url = sqs.create_queue(QueueName=name)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            self._physical[logical_id] = url
            self._attributes[logical_id] = {"Arn": arn, "QueueName": name, "QueueUrl": url}
        for logical_id, resource in queues.items():
            properties = self.resolve(resource.get("Properties") or {})
            attributes = {
                key: _scalar_string(properties[key])
                for key in ("VisibilityTimeout", "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds")
                if key in properties
            }
            if "RedrivePolicy" in properties:
                attributes["RedrivePolicy"] = json.dumps(
                    {k: _scalar_string(v) for k, v in properties["RedrivePolicy"].items()}
                )
            if attributes:
                sqs.set_queue_attributes(QueueUrl=self._physical[logical_id], Attributes=attributes)

    @staticmethod
    def _verify_identity(ses: Any, identity: str) -> None:
        if "@" in identity:
            ses.verify_email_identity(EmailAddress=identity)
        else:
            ses.verify_domain_identity(Domain=identity)

    # ------------------------------------------------------------------ functions

    def _global(self, section: str) -> dict[str, Any]:
        return dict(((self.document.get("Globals") or {}).get(section)) or {})

    def _function_properties(self, logical_id: str) -> dict[str, Any]:
        """The function's properties with SAM's ``Globals.Function`` applied (unresolved)."""
        resource = self._resource(logical_id)
        merged = self._global("Function")
        own = resource.get("Properties") or {}
        merged.update({key: value for key, value in own.items() if key != "Environment"})
        variables = dict(((merged.get("Environment") or {}).get("Variables")) or {})
        variables.update(((own.get("Environment") or {}).get("Variables")) or {})
        merged["Environment"] = {"Variables": variables}
        return merged

    def _serverless_functions(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for logical_id in self.resources("AWS::Serverless::Function"):
            yield logical_id, self._function_properties(logical_id)

    def functions(self) -> list[Function]:
        """Every (condition-true) ``AWS::Serverless::Function``, Globals applied."""
        found = []
        for logical_id, properties in self._serverless_functions():
            code_uri = self.resolve(properties.get("CodeUri", "."))
            if not isinstance(code_uri, str):
                raise TemplateError(f"{logical_id}: CodeUri must be a local path, got {code_uri!r}")
            found.append(
                Function(
                    function_id=logical_id,
                    name=self._function_name(logical_id, properties),
                    code_uri=(self.directory / code_uri).resolve(),
                    handler=str(self.resolve(properties.get("Handler", ""))),
                    memory_mb=int(self.resolve(properties.get("MemorySize", 128))),
                    timeout_s=float(self.resolve(properties.get("Timeout", 3))),
                )
            )
        return found

    def function(self, function_id: str) -> Function:
        """One function by logical id."""
        for function in self.functions():
            if function.function_id == function_id:
                return function
        raise TemplateError(f"unknown function {function_id}")

    def environment(self, function_id: str | None = None) -> dict[str, str]:
        """Environment variables: Globals merged with the function's own, intrinsics resolved.

        Without ``function_id``, only ``Globals.Function.Environment``. Call after
        :meth:`provision`, since ``!Ref`` of a key resolves to the key id it created.
        """
        if function_id is None:
            variables = ((self._global("Function").get("Environment") or {}).get("Variables")) or {}
        else:
            self._resource(function_id)
            variables = self._function_properties(function_id)["Environment"]["Variables"]
        environment = {}
        for name, value in self.resolve(variables).items():
            if isinstance(value, (list, dict)):
                raise TemplateError(f"environment variable {name} is not a scalar: {value!r}")
            environment[name] = _scalar_string(value)
        return environment

    def routes(self) -> list[Route]:
        """Every ``HttpApi`` event of every function, as API Gateway would route it."""
        found: dict[str, Route] = {}
        for function in self.functions():
            for event_id, event in self._events(function.function_id, ("HttpApi",)):
                properties = self.resolve(event.get("Properties") or {})
                if _scalar_string(properties.get("PayloadFormatVersion", "2.0")) != "2.0":
                    raise TemplateError(f"{function.function_id}.{event_id}: only payload format 2.0 is emulated")
                route = Route(
                    method=str(properties.get("Method", "ANY")).upper(),
                    path=str(properties.get("Path", "$default")),
                    function_id=function.function_id,
                    code_uri=function.code_uri,
                    handler=function.handler,
                )
                if route.route_key in found:
                    raise TemplateError(f"route {route.route_key} is declared twice")
                found[route.route_key] = route
        return list(found.values())

    def jobs(self) -> list[Job]:
        """Every ``Schedule``/``ScheduleV2`` event, named by its input's ``job`` field."""
        found: dict[str, Job] = {}
        for function in self.functions():
            for event_id, event in self._events(function.function_id, ("Schedule", "ScheduleV2")):
                properties = self.resolve(event.get("Properties") or {})
                raw = properties.get("Input")
                payload = json.loads(raw) if isinstance(raw, str) else raw
                name = payload.get("job") if isinstance(payload, dict) else None
                job = Job(
                    name=str(name or event_id),
                    function_id=function.function_id,
                    code_uri=function.code_uri,
                    handler=function.handler,
                    input=payload,
                )
                if job.name in found:
                    raise TemplateError(f"job {job.name} is declared twice")
                found[job.name] = job
        return list(found.values())

    def consumers(self) -> list[Consumer]:
        """Every ``SQS`` event: which function consumes which queue, and how."""
        found = []
        for function in self.functions():
            for event_id, event in self._events(function.function_id, ("SQS",)):
                properties = self.resolve(event.get("Properties") or {})
                arn = str(properties["Queue"])
                urls = [a["QueueUrl"] for a in self._attributes.values() if a.get("Arn") == arn and "QueueUrl" in a]
                if not urls:
                    raise TemplateError(f"{function.function_id}.{event_id}: queue {arn} is not provisioned")
                found.append(
                    Consumer(
                        event_id=event_id,
                        function_id=function.function_id,
                        code_uri=function.code_uri,
                        handler=function.handler,
                        queue_url=urls[0],
                        queue_arn=arn,
                        batch_size=int(properties.get("BatchSize", 10)),
                        reports_failures="ReportBatchItemFailures" in (properties.get("FunctionResponseTypes") or []),
                    )
                )
        return found

    def _events(self, function_id: str, types: tuple[str, ...]) -> Iterator[tuple[str, dict]]:
        events = self._function_properties(function_id).get("Events") or {}
        for event_id, event in events.items():
            if event.get("Type") in types:
                yield event_id, event

    def cors(self) -> Cors | None:
        """The HTTP API's CORS configuration (explicit HttpApi or Globals.HttpApi), if any."""
        configured = self._global("HttpApi").get("CorsConfiguration")
        apis = list(self.resources("AWS::Serverless::HttpApi").values())
        if apis:  # one API serves every route locally; the first one's settings apply
            configured = (apis[0].get("Properties") or {}).get("CorsConfiguration", configured)
        configured = self.resolve(configured)
        if not configured:
            return None
        if configured is True:
            configured = {"AllowOrigins": ["*"], "AllowMethods": ["*"], "AllowHeaders": ["*"]}
        max_age = configured.get("MaxAge")
        return Cors(
            allow_origins=tuple(configured.get("AllowOrigins", [])),
            allow_methods=tuple(m.upper() for m in configured.get("AllowMethods", [])),
            allow_headers=tuple(h.lower() for h in configured.get("AllowHeaders", [])),
            expose_headers=tuple(configured.get("ExposeHeaders", [])),
            max_age=None if max_age is None else int(max_age),
            allow_credentials=_truthy(configured.get("AllowCredentials", False)),
        )


_PROVISIONED_TYPES = ("AWS::DynamoDB::Table", "AWS::KMS::Key", "AWS::KMS::Alias", "AWS::SQS::Queue")


def _scalar_string(value: Any) -> str:
    """A scalar as CloudFormation turns it into a string (booleans lower case)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _truthy(value: Any) -> bool:
    return _scalar_string(value).lower() == "true"


def _throughput(properties: Mapping[str, Any]) -> dict[str, int]:
    given = properties.get("ProvisionedThroughput") or {}
    return {
        "ReadCapacityUnits": int(given.get("ReadCapacityUnits", 1)),
        "WriteCapacityUnits": int(given.get("WriteCapacityUnits", 1)),
    }
