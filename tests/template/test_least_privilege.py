"""Least privilege, computed: every function's IAM statements grant exactly the AWS actions its
code can make, per resource (the domain table, the table's indexes, the idempotency table, the
KMS key, SES, SNS): nothing the code cannot use, nothing it may need and lacks.

What a function "can make" is computed statically, without importing or running anything. The
analysis parses (``ast``) the handler module the template names (``CodeUri`` + ``Handler``),
follows the ``portico`` code it can reach, and maps the reached functions that call AWS to IAM
actions with ``NEEDS``. A TransactWriteItems call is authorized per item, so the transaction item
builders (``store.put_op`` ...) carry the actions. A Query needs the table's indexes too (the
analysis does not tell base-table queries from index ones); the indexes need nothing else.

Reach. Starting from the whole handler module:

* importing a module (``import``/``from ... import``, also inside a reached function, with its
  parent packages) reaches its module-level code: everything that runs at import, i.e. all but
  the bodies of its functions and methods (decorators, default values, class bodies included);
* reached code that names a top-level function or class of a ``portico`` module (``name``,
  ``module.name``, ``from module import name``, re-exports followed) reaches that definition,
  a class with all its methods;
* a module object used other than as ``module.name`` (passed on, stored, ``getattr``) reaches
  every definition of that module;
* a top-level function or class decorated by anything but a known pure wrapper (``lru_cache``,
  ``dataclass``, ...) is reached with its module: the decorator may register it.

The analysis over-approximates and must never under-approximate. It counts a function as soon as
reached code names it, whether or not a request ever calls it; a class with all its methods;
module-level code at module granularity (an imported module's import-time code always counts);
and, per function, the code of all its routes (the jobs function: every job ``portico.jobs``
registers). It is finer than module granularity for function bodies: a module imported for one
pure helper does not make its AWS-calling functions count (at module granularity, every HTTP
function would need SES, SNS and the idempotency table, through ``portico.http`` and the
password module).

What it relies on is checked, not assumed (``test_the_analysis_sees_every_aws_call``): only the
functions in ``NEEDS`` create AWS clients, each one calls what ``NEEDS`` says, transaction items
are built only in ``portico.store``, nothing evaluates code, imports dynamically (but for the
plug-in loaders named in ``_PLUGIN_LOADERS``, whose plug-ins bring their own permissions) or
reaches AWS through another library; ``test_the_reach_follows_each_rule`` shows each rule of the
reach on a package made for it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import aws_lambda_powertools
import pytest

from infra.local.cfn import Template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
LAYER = ROOT / "layers" / "common" / "python"
PACKAGE = "portico"
POWERTOOLS_DYNAMODB_PERSISTENCE = (
    Path(aws_lambda_powertools.__file__).parent / "utilities" / "idempotency" / "persistence" / "dynamodb.py"
)

# Resource kinds: the template's resources a statement can name, and the two AWS services whose
# resources are not the template's (SES identities, SMS phone numbers); the export queue.
TABLE = "Table"
INDEXES = "Table indexes"
IDEMPOTENCY = "IdempotencyTable"
KEY = "Key"
SES = "SES"
SNS = "SNS"
EXPORT_QUEUE = "PrivacyExportQueue"
KINDS = (TABLE, INDEXES, IDEMPOTENCY, KEY, SES, SNS, EXPORT_QUEUE)

_POWERTOOLS_IDEMPOTENCY_RECORDS = {
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
}

# The AWS-calling functions, by module, and what reaching each needs: its own calls (a
# TransactWriteItems call needs the permissions of its parts, so the transaction item builders
# carry them). A Query needs the table's indexes too (see ``needs_of``).
NEEDS: dict[str, dict[str, dict[str, set[str]]]] = {
    "portico.store": {
        "get": {TABLE: {"dynamodb:GetItem"}},
        "batch_get": {TABLE: {"dynamodb:BatchGetItem"}},
        "put": {TABLE: {"dynamodb:PutItem"}},
        "update": {TABLE: {"dynamodb:UpdateItem"}},
        "query": {TABLE: {"dynamodb:Query"}},
        "query_all": {TABLE: {"dynamodb:Query"}},
        "batch_put": {TABLE: {"dynamodb:BatchWriteItem"}},
        "put_op": {TABLE: {"dynamodb:PutItem"}},
        "update_op": {TABLE: {"dynamodb:UpdateItem"}},
        "delete_op": {TABLE: {"dynamodb:DeleteItem"}},
        "condition_op": {TABLE: {"dynamodb:ConditionCheckItem"}},
    },
    "portico.secrets_at_rest": {
        "seal": {KEY: {"kms:Encrypt"}},
        "unseal": {KEY: {"kms:Decrypt"}},
    },
    "portico.notify.email": {"send": {SES: {"ses:SendRawEmail"}}},
    "portico.notify.sms": {"send": {SNS: {"sns:Publish"}}},
    "portico.queues": {"send_export": {EXPORT_QUEUE: {"sqs:SendMessage"}}},
    # Powertools' DynamoDB persistence layer, built in _guarded and driven by once.
    "portico.idempotency": {
        "_guarded": {IDEMPOTENCY: set(_POWERTOOLS_IDEMPOTENCY_RECORDS)},
        "once": {IDEMPOTENCY: set(_POWERTOOLS_IDEMPOTENCY_RECORDS)},
    },
}

# Which resource a mapped module's calls of each service address.
_KIND_OF_CALL = {
    ("portico.store", "dynamodb"): TABLE,
    ("portico.idempotency", "dynamodb"): IDEMPOTENCY,
    ("portico.secrets_at_rest", "kms"): KEY,
    ("portico.notify.email", "ses"): SES,
    ("portico.notify.sms", "sns"): SNS,
    ("portico.queues", "sqs"): EXPORT_QUEUE,
}
# Operations that need no permission of their own: TransactWriteItems is authorized per item.
_AUTHORIZED_BY_PARTS = {"transact_write_items"}
_TRANSACTION_PARTS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}
# Decorators that only wrap or complete what they decorate (they do not register it anywhere).
_PURE_DECORATORS = {"lru_cache", "cache", "contextmanager", "overload", "dataclass", "total_ordering", "final"}
# Modules that import code named by configuration from outside this repository: what that code
# needs is granted by whoever configures it, so the analysis cannot and does not count it.
_PLUGIN_LOADERS = {
    "portico.billing.gateway": "PAYMENT_GATEWAY=module:Class, a payment provider's adapter",
}
# Third-party modules that may be imported anywhere: none of them calls AWS.
_QUIET_THIRD_PARTY = (
    "boto3.dynamodb.types",
    "boto3.dynamodb.conditions",
    "botocore.exceptions",
    "botocore.config",
    "aws_lambda_powertools.utilities.typing",
    # SQS partial batch responses: the processor returns the failures, Lambda's event source
    # mapping acts on them (no boto3 or botocore in these packages)
    "aws_lambda_powertools.utilities.batch",
    "aws_lambda_powertools.utilities.data_classes.sqs_event",
)


# ---------------------------------------------------------------------------------- modules


Ref = tuple[str, ...]  # ("module", name) or ("attr", module, attribute)
Node = tuple[str, str]  # (module, top-level definition)


@dataclass
class Module:
    name: str
    path: Path
    package: bool
    tree: ast.Module = field(init=False)
    parents: dict[ast.AST, ast.AST] = field(init=False)
    definitions: dict[str, ast.AST] = field(init=False)
    bindings: dict[str, set[Ref]] = field(init=False)

    def __post_init__(self) -> None:
        self.tree = ast.parse(self.path.read_text(encoding="utf-8"), filename=str(self.path))
        self.parents = {child: node for node in ast.walk(self.tree) for child in ast.iter_child_nodes(node)}
        self.definitions = {
            s.name: s for s in self.tree.body if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        }
        self.bindings = {}
        # Names bound by imports, in any scope (merged: a name means all it is bound to).
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if _ours(alias.name):
                        bound = alias.asname or alias.name.partition(".")[0]
                        target = alias.name if alias.asname else alias.name.partition(".")[0]
                        self.bindings.setdefault(bound, set()).add(("module", target))
            elif isinstance(node, ast.ImportFrom):
                base = self.absolute(node)
                if not _ours(base):
                    continue
                for alias in node.names:
                    assert alias.name != "*", f"{self.name}: `from {base} import *` hides what is used"
                    self.bindings.setdefault(alias.asname or alias.name, set()).add(("attr", base, alias.name))

    def absolute(self, node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        parts = self.name.split(".") if self.package else self.name.split(".")[:-1]
        parts = parts[: len(parts) - (node.level - 1)]
        return ".".join([*parts, *([node.module] if node.module else [])])

    def imported(self, region: Iterable[ast.AST]) -> set[str]:
        """The portico modules the import statements in ``region`` load, parents included."""
        found: set[str] = set()
        for root in region:
            for node in ast.walk(root):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom):
                    base = self.absolute(node)
                    names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
                else:
                    continue
                for name in names:
                    parts = name.split(".")
                    found.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
        return {name for name in found if _ours(name) and module_file(name) is not None}


def _ours(name: str) -> bool:
    return name == PACKAGE or name.startswith(PACKAGE + ".")


@cache
def module_file(name: str) -> Path | None:
    base = LAYER.joinpath(*name.split("."))
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


@cache
def module(name: str) -> Module:
    path = module_file(name)
    assert path is not None, name
    return Module(name, path, package=path.name == "__init__.py")


def package_modules() -> list[Module]:
    found = []
    for path in sorted((LAYER / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(LAYER).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found.append(module(".".join(parts)))
    return found


def handler_module(code_uri: Path, handler: str) -> Module:
    module_path = handler.rpartition(".")[0]
    path = code_uri.joinpath(*module_path.split(".")).with_suffix(".py")
    assert path.is_file(), f"handler module {path} missing"
    return Module(f"<handler {path.parent.name}/{path.name}>", path, package=False)


# ---------------------------------------------------------------------------------- references


def _resolve_attribute(module_name: str, attribute: str, seen: frozenset[tuple[str, str]] = frozenset()) -> set[Ref]:
    """What ``module.attribute`` can be: a definition, a (sub)module, or what a re-export binds."""
    if (module_name, attribute) in seen or module_file(module_name) is None:
        return set()
    seen = seen | {(module_name, attribute)}
    owner = module(module_name)
    found: set[Ref] = set()
    if attribute in owner.definitions:
        found.add(("node", module_name, attribute))
    for ref in owner.bindings.get(attribute, ()):
        found |= _resolve(ref, seen)
    if module_file(f"{module_name}.{attribute}") is not None:
        found.add(("module", f"{module_name}.{attribute}"))
    return found


def _resolve(ref: Ref, seen: frozenset[tuple[str, str]] = frozenset()) -> set[Ref]:
    if ref[0] == "module":
        return {ref} if module_file(ref[1]) is not None else set()
    return _resolve_attribute(ref[1], ref[2], seen)


def references(owner: Module, region: Iterable[ast.AST]) -> Iterator[Ref]:
    """The portico definitions (``("node", module, name)``) and escaping module objects
    (``("module", name)``) the code in ``region`` names."""
    for root in region:
        for node in ast.walk(root):
            if not (isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)):
                continue
            if node.id in owner.definitions:
                yield ("node", owner.name, node.id)
            for ref in owner.bindings.get(node.id, ()):
                yield from _follow(owner, node, _resolve(ref))


def _follow(owner: Module, node: ast.AST, targets: set[Ref]) -> Iterator[Ref]:
    """Descend ``a.b.c`` through modules; a module object used as a value escapes."""
    for target in targets:
        if target[0] == "node":
            yield target
            continue
        parent = owner.parents.get(node)
        if isinstance(parent, ast.Attribute) and parent.value is node:
            yield from _follow(owner, parent, _resolve_attribute(target[1], parent.attr))
        else:
            yield target


# ---------------------------------------------------------------------------------- regions


def _module_level(statements: Iterable[ast.stmt]) -> Iterator[ast.AST]:
    """What runs at import: all but function bodies (class bodies do run)."""
    for statement in statements:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            yield from statement.decorator_list
            yield statement.args
            if statement.returns is not None:
                yield statement.returns
        elif isinstance(statement, ast.ClassDef):
            yield from statement.decorator_list
            yield from statement.bases
            yield from statement.keywords
            yield from _module_level(statement.body)
        else:
            yield statement


def _registering(definition: ast.AST) -> bool:
    """A function or class decorated by something that may keep a reference to it."""
    if not isinstance(definition, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return False
    for decorator in definition.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name not in _PURE_DECORATORS:
            return True
    return False


@dataclass
class Reach:
    modules: set[str] = field(default_factory=set)
    nodes: set[Node] = field(default_factory=set)


def reach(start: Module) -> Reach:
    """The portico modules and definitions the handler module ``start`` can reach."""
    found = Reach()
    pending: list[tuple[Module, list[ast.AST]]] = [(start, list(start.tree.body))]

    def add_module(name: str) -> None:
        if name in found.modules:
            return
        found.modules.add(name)
        loaded = module(name)
        pending.append((loaded, list(_module_level(loaded.tree.body))))
        for definition_name, definition in loaded.definitions.items():
            if _registering(definition):
                add_node(name, definition_name)

    def add_node(module_name: str, name: str) -> None:
        if module_name == start.name or (module_name, name) in found.nodes:
            return  # the handler module is reached whole already
        found.nodes.add((module_name, name))
        add_module(module_name)
        pending.append((module(module_name), [module(module_name).definitions[name]]))

    while pending:
        owner, region = pending.pop()
        for name in owner.imported(region):
            add_module(name)
        for ref in references(owner, region):
            if ref[0] == "node":
                add_node(ref[1], ref[2])
            else:  # a module object escapes: anything in it may be called
                add_module(ref[1])
                for name in module(ref[1]).definitions:
                    add_node(ref[1], name)
    return found


def needs_of(found: Reach) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """The actions per resource kind the reached code needs, and why (action -> functions)."""
    needed: dict[str, set[str]] = {kind: set() for kind in KINDS}
    why: dict[str, set[str]] = {}
    for module_name, name in sorted(found.nodes):
        for kind, actions in NEEDS.get(module_name, {}).get(name, {}).items():
            needed[kind] |= actions
            for action in actions:
                why.setdefault(f"{kind} {action}", set()).add(f"{module_name}.{name}")
    if "dynamodb:Query" in needed[TABLE]:  # the analysis cannot tell base-table queries from index ones
        needed[INDEXES].add("dynamodb:Query")
        why[f"{INDEXES} dynamodb:Query"] = why[f"{TABLE} dynamodb:Query"]
    return needed, why


# ---------------------------------------------------------------------------------- what the analysis relies on


def targets_of(owner: Module, expression: ast.AST) -> set[Ref]:
    """What a name or a dotted name denotes: portico definitions and modules (nothing else)."""
    if isinstance(expression, ast.Name):
        found: set[Ref] = set()
        if expression.id in owner.definitions:
            found.add(("node", owner.name, expression.id))
        for ref in owner.bindings.get(expression.id, ()):
            found |= _resolve(ref)
        return found
    if isinstance(expression, ast.Attribute):
        return {
            target
            for base in targets_of(owner, expression.value)
            if base[0] == "module"
            for target in _resolve_attribute(base[1], expression.attr)
        }
    return set()


_AWS_CLIENT: Ref = ("node", "portico.aws", "client")


def _aws_client_calls(owner: Module, root: ast.AST) -> Iterator[tuple[ast.Call, ast.AST | None]]:
    """Every call of ``portico.aws.client`` in ``root``, with the node that uses its result."""
    for node in ast.walk(root):
        if isinstance(node, ast.Call) and _AWS_CLIENT in targets_of(owner, node.func):
            yield node, owner.parents.get(node)


def _powertools_persistence_operations() -> set[str]:
    tree = ast.parse(POWERTOOLS_DYNAMODB_PERSISTENCE.read_text(encoding="utf-8"))
    operations = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Attribute)
            and node.func.value.attr == "client"
        ):
            operations.add(node.func.attr)
    assert operations, "Powertools' DynamoDB persistence layer makes no client call any more?"
    return operations


def _action(service: str, operation: str) -> str:
    return f"{service}:{''.join(part.capitalize() for part in operation.split('_'))}"


def _direct_needs(owner: Module, definition: ast.AST) -> dict[str, set[str]]:
    """What one definition's own code calls in AWS, by resource kind; asserts it can tell."""
    needs: dict[str, set[str]] = {}
    for call, user in _aws_client_calls(owner, definition):
        assert len(call.args) == 1 and isinstance(call.args[0], ast.Constant), (
            f"{owner.name}: aws.client needs a literal service name to be analysed"
        )
        service = call.args[0].value
        kind = _KIND_OF_CALL.get((owner.name, service))
        assert kind is not None, f"{owner.name} calls {service}: add it to NEEDS and _KIND_OF_CALL"
        if isinstance(user, ast.Attribute) and isinstance(owner.parents.get(user), ast.Call):
            operations = {user.attr}
        elif isinstance(user, ast.keyword) and user.arg == "boto3_client":
            constructor = ast.unparse(owner.parents[user].func)  # type: ignore[attr-defined]
            assert constructor == "DynamoDBPersistenceLayer", f"{owner.name}: client handed to {constructor}"
            operations = _powertools_persistence_operations()
        else:
            raise AssertionError(f"{owner.name}: an AWS client used in a way the analysis cannot follow")
        for operation in operations - _AUTHORIZED_BY_PARTS:
            needs.setdefault(kind, set()).add(_action(service, operation))
    if owner.name == "portico.store" and isinstance(definition, ast.FunctionDef):
        for node in ast.walk(definition):
            if isinstance(node, ast.Return) and isinstance(node.value, ast.Dict):
                for key in node.value.keys:
                    if isinstance(key, ast.Constant) and key.value in _TRANSACTION_PARTS:
                        needs.setdefault(TABLE, set()).add(_TRANSACTION_PARTS[key.value])
    return needs


def _within_module(owner: Module, name: str) -> set[str]:
    """``name`` and the definitions of its own module it names, transitively."""
    found, pending = {name}, [name]
    while pending:
        for ref in references(owner, [owner.definitions[pending.pop()]]):
            if ref[0] == "node" and ref[1] == owner.name and ref[2] not in found:
                found.add(ref[2])
                pending.append(ref[2])
    return found


def _hidden_calls(owner: Module) -> list[str]:
    """Ways of reaching code or AWS that the analysis would not see."""
    problems = []
    for node in ast.walk(owner.tree):
        where = f"{owner.name}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Call):
            callee = ast.unparse(node.func)
            if callee in {"eval", "exec", "__import__"} or (
                callee == "getattr" and node.args and _is_module_object(owner, node.args[0])
            ):
                problems.append(f"{where}: {callee} hides what is called")
        if isinstance(node, ast.Import | ast.ImportFrom):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                names = [f"{owner.absolute(node)}.{alias.name}" for alias in node.names]
            for name in names:
                if name.split(".")[0] == "importlib" and owner.name not in _PLUGIN_LOADERS:
                    problems.append(f"{where}: dynamic imports hide what is reached")
                if _talks_to_aws(name) and not _allowed_aws_import(owner.name, name):
                    problems.append(f"{where}: imports {name}, which can call AWS")
        parts = isinstance(node, ast.Dict) and any(
            isinstance(k, ast.Constant) and k.value in _TRANSACTION_PARTS for k in node.keys
        )
        if parts and owner.name != "portico.store":
            problems.append(f"{where}: builds a transaction item outside portico.store")
        if owner.name != "portico.aws" and isinstance(node, ast.Name | ast.Attribute):
            parent = owner.parents.get(node)
            called = isinstance(parent, ast.Call) and parent.func is node
            inner = isinstance(parent, ast.Attribute)  # part of a longer dotted name, judged there
            if not called and not inner and _AWS_CLIENT in targets_of(owner, node):
                problems.append(f"{where}: aws.client passed around, so its calls cannot be followed")
    return problems


def _is_module_object(owner: Module, expression: ast.AST) -> bool:
    return any(target[0] == "module" for target in targets_of(owner, expression))


def _talks_to_aws(name: str) -> bool:
    if any(name == quiet or name.startswith(quiet + ".") for quiet in _QUIET_THIRD_PARTY):
        return False
    return (
        name.split(".")[0] in {"boto3", "botocore", "aiobotocore"}
        or name.startswith("aws_lambda_powertools.utilities.")
        or name.startswith("aws_lambda_powertools.tracing")
    )


def _allowed_aws_import(module_name: str, name: str) -> bool:
    if module_name == "portico.aws":
        return name.split(".")[0] in {"boto3", "botocore"}
    if module_name == "portico.idempotency":
        return name.startswith("aws_lambda_powertools.utilities.idempotency")
    return False


# ---------------------------------------------------------------------------------- the template


@pytest.fixture(scope="module")
def template() -> Template:
    return Template.load(TEMPLATE)


def _kind(resource: Any, actions: set[str], negated: bool) -> str:
    services = {action.partition(":")[0] for action in actions}
    if negated:
        # SMS to phone numbers: sns:Publish on anything that is not a topic (or other SNS resource).
        assert services == {"sns"} and resource == "arn:aws:sns:*:*:*", f"unexpected NotResource {resource!r}"
        return SNS
    if resource == "*":
        # SES authorizes by identity; the statements restrict the sender with a condition instead.
        assert services == {"ses"}, f"only SES actions may name every resource, not {sorted(actions)}"
        return SES
    if resource == {"Fn::GetAtt": ["Table", "Arn"]}:
        return TABLE
    if resource == {"Fn::Sub": "${Table.Arn}/index/*"}:
        return INDEXES
    if resource == {"Fn::GetAtt": ["IdempotencyTable", "Arn"]}:
        return IDEMPOTENCY
    if resource == {"Fn::GetAtt": ["Key", "Arn"]}:
        return KEY
    if resource == {"Fn::GetAtt": [EXPORT_QUEUE, "Arn"]}:
        return EXPORT_QUEUE
    raise AssertionError(f"unexpected resource {resource!r}")


def granted_of(properties: dict[str, Any]) -> dict[str, set[str]]:
    granted: dict[str, set[str]] = {kind: set() for kind in KINDS}
    for policy in properties.get("Policies", []):
        assert isinstance(policy, dict) and set(policy) == {"Statement"}, "use explicit statements"
        for statement in policy["Statement"]:
            assert statement["Effect"] == "Allow", statement
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            negated = "NotResource" in statement
            resources = statement["NotResource"] if negated else statement["Resource"]
            for resource in resources if isinstance(resources, list) else [resources]:
                kind = _kind(resource, set(actions), negated)
                expected = {TABLE: "dynamodb", INDEXES: "dynamodb", IDEMPOTENCY: "dynamodb", KEY: "kms"}.get(kind)
                assert expected is None or all(a.startswith(expected + ":") for a in actions), (kind, actions)
                granted[kind] |= set(actions)
    return granted


def _functions(template: Template) -> list[tuple[str, Path, str, dict[str, Any]]]:
    resources = template.document["Resources"]
    found = [
        (f.function_id, f.code_uri, f.handler, resources[f.function_id]["Properties"]) for f in template.functions()
    ]
    assert found, "the template declares no functions"
    return found


# ---------------------------------------------------------------------------------- tests


def test_every_function_is_granted_exactly_what_its_code_can_do(template):
    problems = []
    for function_id, code_uri, handler, properties in _functions(template):
        needed, why = needs_of(reach(handler_module(code_uri, handler)))
        granted = granted_of(properties)
        for kind in KINDS:
            for action in sorted(needed[kind] - granted[kind]):
                callers = ", ".join(sorted(why[f"{kind} {action}"]))
                problems.append(f"{function_id}: missing {action} on {kind} (reaches {callers})")
            for action in sorted(granted[kind] - needed[kind]):
                problems.append(f"{function_id}: {action} on {kind} granted but never used")
    assert not problems, "\n".join(problems)


def test_ses_is_granted_only_for_the_sender_address(template):
    for function_id, _, _, properties in _functions(template):
        for policy in properties.get("Policies", []):
            for statement in policy["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                if any(a.startswith("ses:") for a in actions):
                    condition = statement.get("Condition", {}).get("StringEquals", {})
                    assert condition.get("ses:FromAddress") == {"Ref": "SenderEmail"}, function_id


def test_the_analysis_sees_every_aws_call(template):
    """NEEDS is what the code calls, and no AWS call escapes NEEDS."""
    handlers = [handler_module(f.code_uri, f.handler) for f in template.functions()]
    problems = []
    for owner in [*package_modules(), *handlers]:
        problems += _hidden_calls(owner)
        mapped = NEEDS.get(owner.name)
        for name, definition in owner.definitions.items():
            direct = _direct_needs(owner, definition)
            if mapped is None:
                if direct:
                    problems.append(f"{owner.name}.{name} calls AWS ({direct}) but is not in NEEDS")
                continue
            claimed = mapped.get(name, {})
            around: dict[str, set[str]] = {}
            for other in _within_module(owner, name):
                for kind, actions in _direct_needs(owner, owner.definitions[other]).items():
                    around.setdefault(kind, set()).update(actions)
            for kind in KINDS:
                if not direct.get(kind, set()) <= claimed.get(kind, set()):
                    problems.append(f"{owner.name}.{name}: calls {direct[kind]} on {kind}, NEEDS says {claimed}")
                if not claimed.get(kind, set()) <= around.get(kind, set()):
                    problems.append(f"{owner.name}.{name}: NEEDS claims {claimed[kind]} on {kind}, code does {around}")
        module_level = _direct_needs(owner, ast.Module(body=list(_module_level(owner.tree.body)), type_ignores=[]))
        if module_level:
            problems.append(f"{owner.name}: calls AWS at import ({module_level}), which NEEDS cannot express")
        if mapped is not None and set(mapped) - set(owner.definitions):
            problems.append(
                f"{owner.name}: NEEDS names missing functions {sorted(set(mapped) - set(owner.definitions))}"
            )
    assert set(NEEDS) <= {m.name for m in package_modules()}, "NEEDS names a module that does not exist"
    assert not problems, "\n".join(problems)


def test_the_reach_finds_what_the_functions_are_known_to_do(template):
    """The reach itself, on facts of the product: what each function is known to do is reached."""
    reached = {f.function_id: reach(handler_module(f.code_uri, f.handler)).nodes for f in template.functions()}
    assert ("portico.store", "get") in reached["AccountsFunction"]
    assert ("portico.secrets_at_rest", "unseal") in reached["AuthFunction"]  # the 2FA login step
    assert ("portico.notify.sms", "send") in reached["AuthFunction"]  # reset codes by SMS
    assert ("portico.secrets_at_rest", "seal") in reached["MeFunction"]  # TOTP set-up
    assert ("portico.notify.email", "send") in reached["JobsFunction"]  # password-expiry reminders
    assert ("portico.store", "batch_put") in reached["JobsFunction"]  # audit-fanout
    assert ("portico.idempotency", "once") in reached["UsersFunction"]  # invitations
    # and finer than modules: the accounts function sends nothing, whatever it imports
    assert ("portico.notify.email", "send") not in reached["AccountsFunction"]
    assert ("portico.notify.sms", "send") not in reached["AccountsFunction"]


# A package of its own, to show each rule of the reach on code made for it.
SYNTHETIC = {
    "pkg/__init__.py": "",
    "pkg/store.py": "def get(): ...\ndef put(): ...\ndef delete_op(): ...\ndef unused(): ...\n",
    "pkg/named.py": "from pkg import store\ndef uses_get():\n    return store.get()\ndef never():\n    store.put()\n",
    "pkg/at_import.py": "import pkg.store\nREGISTRY = {'x': pkg.store.delete_op}\n",
    "pkg/escaping.py": "from pkg import store as s\ndef pick(name):\n    return getattr(s, name)\n",
    "pkg/lazy.py": "def later():\n    from pkg.store import put\n    return put()\n",
    "pkg/registry.py": "HOOKS = []\ndef register(f):\n    HOOKS.append(f)\n    return f\n",
    "pkg/decorated.py": (
        "from functools import lru_cache\nfrom pkg import store\nfrom pkg.registry import register\n"
        "@register\ndef hook():\n    store.put()\n"
        "@lru_cache(maxsize=1)\ndef cached():\n    store.get()\n"
        "@register\nclass Plugin:\n    def run(self):\n        store.delete_op()\n"
    ),
    "pkg/methods.py": "from pkg import store\nclass Repo:\n    def save(self):\n        store.put()\n",
    "pkg/reexport/__init__.py": "from pkg.reexport.impl import act\n",
    "pkg/reexport/impl.py": "from pkg import store\ndef act():\n    store.get()\ndef other():\n    store.put()\n",
}


@pytest.fixture
def synthetic(tmp_path):
    for name, text in SYNTHETIC.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    module_file.cache_clear()
    module.cache_clear()
    globals_before = (globals()["LAYER"], globals()["PACKAGE"])
    globals()["LAYER"], globals()["PACKAGE"] = tmp_path, "pkg"

    def reached(handler_code: str) -> set[Node]:
        (tmp_path / "fn").mkdir(exist_ok=True)
        (tmp_path / "fn" / "app.py").write_text(handler_code)
        return {node for node in reach(handler_module(tmp_path / "fn", "app.handler")).nodes if node[0] == "pkg.store"}

    yield reached
    globals()["LAYER"], globals()["PACKAGE"] = globals_before
    module_file.cache_clear()
    module.cache_clear()


@pytest.mark.parametrize(
    ("handler", "store_functions"),
    [
        ("from pkg import named\ndef handler(e, c):\n    return named.uses_get()\n", {"get"}),  # not never's put
        ("import pkg.at_import\n", {"delete_op"}),  # module-level code runs at import
        ("from pkg.escaping import pick\nHANDLERS = [pick]\n", {"get", "put", "delete_op", "unused"}),  # getattr
        ("from pkg import lazy\ndef handler(e, c):\n    lazy.later()\n", {"put"}),  # an import in a function
        ("import pkg.decorated\n", {"put", "delete_op"}),  # registered by decorators; lru_cache is not
        ("from pkg.named import never\n", set()),  # imported, never named: never called
        ("from pkg.methods import Repo\nREPO = Repo()\n", {"put"}),  # a class with all its methods
        ("from pkg import reexport\ndef handler(e, c):\n    reexport.act()\n", {"get"}),  # re-exported
        ("from pkg import store\ndef handler(e, c):\n    return store\n", {"get", "put", "delete_op", "unused"}),
    ],
)
def test_the_reach_follows_each_rule(synthetic, handler, store_functions):
    assert {name for _, name in synthetic(handler)} == store_functions
