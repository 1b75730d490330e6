"""Connector types: ``airtable`` (through :class:`mimeiapify.airtable_async.AirtableAsync`)
and ``flowmesh_publish`` (through the :mod:`flowmesh` SDK).

The airtable step uses the run's tenant's own credentials
(:mod:`automation.integrations`) and reaches only the bases that tenant listed.
"""

from __future__ import annotations

import json
from typing import Any

from automation.integrations import credentials_for
from automation.registry import ActionContext, ActionError, ActionType
from flowmesh import Event, FlowMesh, FlowMeshError
from mimeiapify.airtable_async import AirtableAsync
from mimeiapify.errors import MimeiapifyError

AIRTABLE_OPERATIONS = ("create", "update", "upsert", "list", "get", "delete")


def _check_airtable(config: dict[str, Any]) -> list[str]:
    problems = []
    for key in ("base_id", "table"):
        if not isinstance(config.get(key), str) or not config[key]:
            problems.append(f"config.{key}: required (a string)")
    operation = config.get("operation")
    if operation not in AIRTABLE_OPERATIONS:
        problems.append(f"config.operation: one of {', '.join(AIRTABLE_OPERATIONS)}")
    if operation in ("create", "upsert") and not isinstance(config.get("records"), list | str):
        problems.append(f"config.records: required for {operation} (a list of field objects)")
    if operation == "upsert" and not isinstance(config.get("merge_on"), list):
        problems.append("config.merge_on: required for upsert (field names to match on)")
    if operation in ("update", "get", "delete") and not config.get("record_id"):
        problems.append(f"config.record_id: required for {operation}")
    if operation == "update" and not isinstance(config.get("fields"), dict | str):
        problems.append("config.fields: required for update (an object)")
    return problems


async def _airtable_key(ctx: ActionContext, base_id: str) -> str:
    """The tenant's own Airtable key, for a base the tenant allowed; never another's."""
    credentials = await credentials_for(ctx.database, ctx.tenant_id, "airtable")
    if credentials is None:
        raise ActionError(
            "airtable: not configured for this tenant "
            "(PUT /api/v1/integrations/airtable/settings with api_key and base_ids)"
        )
    if base_id not in credentials.settings.get("base_ids", []):
        raise ActionError(
            f"config.base_id: {base_id[:40]!r} is not one of this tenant's Airtable bases "
            "(base_ids in /api/v1/integrations/airtable/settings)"
        )
    return credentials.secrets["api_key"]


async def airtable(ctx: ActionContext, config: dict[str, Any]) -> Any:
    base_id = str(config["base_id"])
    client = AirtableAsync(
        base_id=base_id,
        api_key=await _airtable_key(ctx, base_id),
        api_url=ctx.settings.airtable_api_url,
        timeout=float(config.get("timeout_seconds", 30)),
    )
    table = str(config["table"])
    operation = config["operation"]
    typecast = bool(config.get("typecast", False))
    try:
        async with client:
            if operation == "create":
                return {
                    "records": await client.create_records(
                        table, config["records"], typecast=typecast
                    )
                }
            if operation == "upsert":
                return await client.update_multiple_records(
                    table,
                    config["records"],
                    typecast=typecast,
                    perform_upsert=True,
                    fields_to_merge_on=list(config["merge_on"]),
                )
            if operation == "update":
                return await client.update_single_record(
                    table, str(config["record_id"]), config["fields"], typecast=typecast
                )
            if operation == "get":
                return await client.get_record(table, str(config["record_id"]))
            if operation == "delete":
                record_id = str(config["record_id"])
                return {
                    "id": record_id,
                    "deleted": await client.delete_single_record(table, record_id),
                }
            options: dict[str, Any] = {}
            if config.get("max_records"):
                options["max_records"] = int(config["max_records"])
            if config.get("fields"):
                options["fields"] = list(config["fields"])
            records = await client.fetch_records(
                table, raw=True, filter_by_formula=config.get("formula") or None, **options
            )
            return {"records": records}
    except MimeiapifyError as exc:
        raise ActionError(f"airtable {operation} on {table!r} failed: {exc}") from None


AIRTABLE = ActionType(
    "airtable",
    airtable,
    _check_airtable,
    "Create, update, upsert, read or delete Airtable records",
)


def _check_flowmesh(config: dict[str, Any]) -> list[str]:
    problems = []
    if config.get("kind", "stream") not in ("stream", "queue"):
        problems.append("config.kind: 'stream' or 'queue'")
    for key in ("namespace", "name"):
        if not isinstance(config.get(key), str) or not config[key]:
            problems.append(f"config.{key}: required (a string)")
    if "payload" not in config:
        problems.append("config.payload: required (JSON, templates allowed)")
    if not isinstance(config.get("headers", {}), dict):
        problems.append("config.headers: must be an object of strings")
    return problems


async def flowmesh_publish(ctx: ActionContext, config: dict[str, Any]) -> dict[str, Any]:
    """Write to a FlowMesh stream or enqueue a job, under this run's tenant."""
    if not ctx.settings.flowmesh_url:
        raise ActionError("FLOWMESH_URL is not configured for this service")
    payload = config["payload"]
    body = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
    headers = {str(k): str(v) for k, v in (config.get("headers") or {}).items()}
    namespace, name = str(config["namespace"]), str(config["name"])
    try:
        async with FlowMesh(
            endpoint=ctx.settings.flowmesh_url,
            auth_token=ctx.settings.flowmesh_token,
            timeout=float(config.get("timeout_seconds", 10)),
            connect_timeout=5.0,
        ) as client:
            if config.get("kind", "stream") == "queue":
                job_id, seq = await client.queue.enqueue(
                    ctx.tenant_id,
                    namespace,
                    name,
                    body,
                    headers=headers,
                    dedup_id=ctx.idempotency_key,
                )
                return {"job_id": job_id, "seq": seq}
            offsets = await client.stream.write(
                ctx.tenant_id, namespace, name, [Event(payload=body, headers=headers)]
            )
            return {"offsets": offsets}
    except FlowMeshError as exc:
        raise ActionError(f"flowmesh publish to {namespace}/{name} failed: {exc}") from None


FLOWMESH_PUBLISH = ActionType(
    "flowmesh_publish",
    flowmesh_publish,
    _check_flowmesh,
    "Write an event to a FlowMesh stream or enqueue a FlowMesh job",
)

# The connector step types, registered through the entry point group
# ``automation.action_types`` (services/automation/pyproject.toml).
CONNECTOR_STEP_TYPES = [AIRTABLE, FLOWMESH_PUBLISH]
