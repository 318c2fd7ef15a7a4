"""User and portal tokens are different kinds: one is never accepted where the other is required."""

import json

from portico import access, clock, http, ids, keys, store

app = http.resolver()


@app.get("/portal/whoami")
@access.customer
def whoami() -> dict:
    customer = http.customer(app)
    return {"customer_id": customer.customer_id, "account_id": customer.account_id}


@app.get("/me/whoami")
@access.user
def me_whoami() -> dict:
    return {"user_id": http.session(app).user_id}


handler = http.entry_point(app)


class Context:
    function_name = "kinds"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:eu-central-1:123456789012:function:kinds"
    aws_request_id = "r"


def call(path: str, token: str | None) -> tuple[int, dict]:
    event = {
        "version": "2.0",
        "routeKey": f"GET {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"authorization": f"Bearer {token}"} if token else {},
        "requestContext": {
            "http": {"method": "GET", "path": path, "sourceIp": "127.0.0.1", "userAgent": "t"},
            "requestId": "r",
            "routeKey": f"GET {path}",
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }
    answer = handler(event, Context())
    return answer["statusCode"], json.loads(answer["body"])


def portal_token(account_id: str = "acc_portal", *, idle: int = 1800) -> str:
    token = "ptc_" + ids.new_token()
    now = int(clock.timestamp())
    store.put(
        {
            **keys.portal_session(ids.digest(token)),
            "account_id": account_id,
            "customer_id": "cus_one",
            "created_at": now,
            "last_seen_at": now,
            "idle_seconds": idle,
            "expires_at": now + 3600,
        }
    )
    return token


def test_portal_route_takes_a_portal_token_and_refuses_a_user_token(template_env, person, login, clock):
    ada = person()
    user_token = login(ada)
    customer = portal_token()
    assert call("/portal/whoami", customer) == (200, {"customer_id": "cus_one", "account_id": "acc_portal"})
    status, body = call("/portal/whoami", user_token)
    assert status == 401 and body["code"] == "unauthenticated"
    status, body = call("/me/whoami", customer)
    assert status == 401 and body["code"] == "unauthenticated"
    assert call("/me/whoami", user_token)[0] == 200
    assert call("/portal/whoami", None)[0] == 401


def test_portal_token_expires_when_idle(template_env, clock):
    customer = portal_token(idle=600)
    clock.advance(601)
    assert call("/portal/whoami", customer)[0] == 401


def test_portal_idle_time_counts_from_the_last_use(template_env, clock):
    """A portal session in use stays alive past its idle timeout (its last-seen time is refreshed
    at most once a minute, as a merchant session's), and dies once it is left idle that long."""
    customer = portal_token(idle=600)
    for _ in range(3):  # 27 minutes of use, every 9 minutes
        clock.advance(540)
        assert call("/portal/whoami", customer)[0] == 200
    clock.advance(599)
    assert call("/portal/whoami", customer)[0] == 200
    clock.advance(600)
    assert call("/portal/whoami", customer)[0] == 401
