"""The local stack: ``python -m infra.local`` serves the HTTP API declared in ``template.yaml``.

It routes each request, as API Gateway HTTP API would, to the handler the template names, running
in a pool of worker processes (one invocation at a time each, like warm Lambda containers) over
an embedded moto server. Local-only routes under ``/_local/`` expose the sent emails and SMS,
the shared clock and the scheduled jobs.

Modules: ``cfn`` (template loading, intrinsics, provisioning), ``events`` (HTTP API routing and
payload format 2.0), ``worker`` (the process side), ``aws`` (the embedded moto server),
``outbox`` (sent messages), ``server`` (the HTTP front and the CLI), ``pages`` (the landing and
outbox pages), ``localapi`` (the OpenAPI document of the local routes), ``state`` (data kept
across restarts in ``.local-state/``), ``seed`` (the demo account).

This package must stay cheap to import: worker processes import it without moto.
"""
