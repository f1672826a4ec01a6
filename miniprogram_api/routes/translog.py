"""An organization's transparency log: signed checkpoints, its key, entries, inclusion, consistency proofs."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, raw, text
from sanic_ext import openapi

from backend.translog import keys, service
from backend.translog.schemas import (
    CheckpointQuery,
    ConsistencyQuery,
    EntriesQuery,
    EntriesRead,
    InclusionQuery,
    LeavesQuery,
    ProofRead,
)

from ..openapi import parse_query, query_params, refuses, responds
from ..responses import json_bytes

bp = Blueprint("translog", url_prefix="/")
TEXT = {"text/plain": {"schema": {"type": "string"}}}
# A checkpoint is immutable once signed (at a given size), the latest changes within a second.
NO_CACHE = {"Cache-Control": "no-cache"}


def _name(request: Request) -> str:
    return keys.log_name(request.app.ctx.container.settings.public_base_url)


@bp.get("/orgs/<code:str>/log/checkpoint")
@openapi.tag("transparency")
@query_params(CheckpointQuery)
@openapi.response(200, TEXT, "The signed checkpoint (C2SP signed note: origin, size, base64 root)")
@refuses(404, 422)
async def get_log_checkpoint(request: Request, code: str) -> HTTPResponse:
    """The latest signed checkpoint of the organization's log, or the one signed at ?size=N."""
    query = parse_query(request, CheckpointQuery)
    if query.size is None:
        return text(await service.latest_checkpoint(code=code), headers=NO_CACHE)
    return text(await service.checkpoint_at(code=code, size=query.size))


@bp.get("/orgs/<code:str>/log/key")
@openapi.tag("transparency")
@openapi.response(200, TEXT, "The note verifier key: <name>+<hex key id>+<base64(0x01 || Ed25519 key)>")
@refuses(404)
async def get_log_key(request: Request, code: str) -> HTTPResponse:
    """The key that signs the log's checkpoints now (retired ones: /.well-known/gongxin-keys.json)."""
    container = request.app.ctx.container
    return text(await service.verifier_key(code=code, name=_name(request), cipher=container.cipher))


@bp.get("/orgs/<code:str>/log/entries")
@openapi.tag("transparency")
@query_params(EntriesQuery)
@responds(200, EntriesRead, "Leaves [start, end), at most 1,000; fewer at the end of the log", 404, 422)
async def get_log_entries(request: Request, code: str) -> HTTPResponse:
    """The log's leaves: the exact bytes hashed (base64) and their fields."""
    query = parse_query(request, EntriesQuery)
    return json_bytes(await service.entries(code=code, start=query.start, end=query.end))


@bp.get("/orgs/<code:str>/log/leaves")
@openapi.tag("transparency")
@query_params(LeavesQuery)
@openapi.response(
    200,
    {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    "Leaves [start, end), at most 16,384: each a 4-byte big-endian length and the exact bytes hashed",
)
@refuses(404, 422)
async def get_log_leaves(request: Request, code: str) -> HTTPResponse:
    """The log's leaves, compact: what gongxin-verify reads to recompute a whole log."""
    query = parse_query(request, LeavesQuery)
    body = await service.leaves(code=code, start=query.start, end=query.end)
    return raw(body, content_type="application/octet-stream")


@bp.get("/orgs/<code:str>/log/proof/inclusion")
@openapi.tag("transparency")
@query_params(InclusionQuery)
@responds(200, ProofRead, "The RFC 6962 inclusion proof", 404, 422)
async def get_inclusion_proof(request: Request, code: str) -> HTTPResponse:
    """The inclusion proof of leaf ?index in the tree of ?size leaves (a signed size)."""
    query = parse_query(request, InclusionQuery)
    return json_bytes(await service.inclusion_proof(code=code, index=query.index, size=query.size))


@bp.get("/orgs/<code:str>/log/proof/consistency")
@openapi.tag("transparency")
@query_params(ConsistencyQuery)
@responds(200, ProofRead, "The RFC 6962 consistency proof", 404, 422)
async def get_consistency_proof(request: Request, code: str) -> HTTPResponse:
    """The consistency proof from the tree of ?first leaves to the tree of ?second leaves."""
    query = parse_query(request, ConsistencyQuery)
    return json_bytes(await service.consistency_proof(code=code, first=query.first, second=query.second))
