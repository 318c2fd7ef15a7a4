"""The OpenAPI document of the local stack's own routes (``GET /_local/local-openapi.json``).

These routes are never in ``template.yaml`` (nor in the API's ``openapi.json``): only the local
stack serves them. The Swagger UI page shows this document at ``/_local/docs?spec=local``.
"""

from __future__ import annotations

from typing import Any

_PROBLEM = {"$ref": "#/components/schemas/Problem"}
_HTML = {"text/html": {"schema": {"type": "string"}}}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {"schema": _PROBLEM}}}


def document(server: str, jobs: list[str]) -> dict[str, Any]:
    clock = {
        "description": "The time every function sees",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Clock"}}},
    }
    form_redirect = {"description": "Form-encoded request from the landing page: back to it (`Location: /`)"}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Portico local stack (/_local routes)",
            "version": "1",
            "description": (
                "Routes only `make run` serves, never deployed: the outbox of sent emails and SMS, the "
                "emulated clock, the scheduled jobs and these documents. Form-encoded POSTs (from the "
                "landing page) are accepted from this origin only."
            ),
        },
        "servers": [{"url": server}],
        "tags": [{"name": "local"}],
        "paths": {
            "/": {
                "get": {
                    "tags": ["local"],
                    "summary": "Landing page: what runs, demo account, clock, jobs, links",
                    "responses": {"200": {"description": "HTML page", "content": _HTML}},
                }
            },
            "/_local/outbox": {
                "get": {
                    "tags": ["local"],
                    "summary": "Sent emails and SMS, newest first",
                    "parameters": [
                        {
                            "name": "to",
                            "in": "query",
                            "required": False,
                            "description": "Only messages to this address or phone number (any case)",
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "The messages",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["messages"],
                                        "properties": {
                                            "messages": {
                                                "type": "array",
                                                "items": {"$ref": "#/components/schemas/Message"},
                                            }
                                        },
                                    }
                                }
                            },
                        }
                    },
                }
            },
            "/_local/outbox.html": {
                "get": {
                    "tags": ["local"],
                    "summary": "The outbox as a page: links clickable, codes visible",
                    "parameters": [{"name": "to", "in": "query", "required": False, "schema": {"type": "string"}}],
                    "responses": {"200": {"description": "HTML page", "content": _HTML}},
                }
            },
            "/_local/clock": {
                "get": {"tags": ["local"], "summary": "The emulated time", "responses": {"200": clock}},
                "post": {
                    "tags": ["local"],
                    "summary": "Move the clock forward",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["advance_seconds"],
                                    "properties": {
                                        "advance_seconds": {"type": "number", "minimum": 0, "maximum": 3162240000}
                                    },
                                }
                            },
                            "application/x-www-form-urlencoded": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "advance_seconds": {"type": "number", "minimum": 0},
                                        "reset": {"type": "string", "description": "any value: back to real time"},
                                    },
                                }
                            },
                        },
                    },
                    "responses": {
                        "200": clock,
                        "303": form_redirect,
                        "400": _problem("The body is not JSON"),
                        "403": _problem("A form post from another origin"),
                        "422": _problem("advance_seconds is not a finite number of seconds in range"),
                    },
                },
                "delete": {
                    "tags": ["local"],
                    "summary": "Reset the clock to real time",
                    "responses": {"200": clock},
                },
            },
            "/_local/jobs/{job}": {
                "post": {
                    "tags": ["local"],
                    "summary": "Run a scheduled job now; answers its summary",
                    "parameters": [
                        {"name": "job", "in": "path", "required": True, "schema": {"type": "string", "enum": jobs}}
                    ],
                    "responses": {
                        "200": {
                            "description": "What the job's function returned (HTML for a form post)",
                            "content": {"application/json": {"schema": {"type": "object"}}, **_HTML},
                        },
                        "403": _problem("A form post from another origin"),
                        "404": _problem("No scheduled job of that name"),
                        "500": {"description": "The job's function failed (traceback on the console)"},
                    },
                }
            },
            "/_local/openapi.json": {
                "get": {
                    "tags": ["local"],
                    "summary": "The OpenAPI document of the template's routes",
                    "responses": {"200": {"description": "OpenAPI 3 document"}},
                }
            },
            "/_local/local-openapi.json": {
                "get": {
                    "tags": ["local"],
                    "summary": "This document",
                    "responses": {"200": {"description": "OpenAPI 3 document"}},
                }
            },
            "/_local/docs": {
                "get": {
                    "tags": ["local"],
                    "summary": "Swagger UI of the API (`?spec=local`: of these routes)",
                    "parameters": [
                        {
                            "name": "spec",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string", "enum": ["local"]},
                        }
                    ],
                    "responses": {"200": {"description": "HTML page", "content": _HTML}},
                }
            },
        },
        "components": {
            "schemas": {
                "Clock": {
                    "type": "object",
                    "required": ["now"],
                    "properties": {"now": {"type": "string", "format": "date-time"}},
                },
                "Message": {
                    "type": "object",
                    "required": ["message_id", "channel", "to", "subject", "text", "html", "attachments", "sent_at"],
                    "properties": {
                        "message_id": {"type": "string"},
                        "channel": {"type": "string", "enum": ["email", "sms"]},
                        "to": {"type": "array", "items": {"type": "string"}},
                        "subject": {"type": ["string", "null"]},
                        "text": {"type": ["string", "null"]},
                        "html": {"type": ["string", "null"]},
                        "attachments": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "filename": {"type": ["string", "null"]},
                                    "content_type": {"type": "string"},
                                    "size": {"type": "integer"},
                                },
                            },
                        },
                        "sent_at": {"type": ["string", "null"], "format": "date-time"},
                    },
                },
                "Problem": {
                    "type": "object",
                    "required": ["type", "title", "status", "code"],
                    "properties": {
                        "type": {"type": "string"},
                        "title": {"type": "string"},
                        "status": {"type": "integer"},
                        "code": {"type": "string"},
                        "detail": {"type": "string"},
                    },
                },
            }
        },
    }
