"""The charity routes in the OpenAPI document the SDK is generated from."""

from __future__ import annotations


async def test_recording_a_donation_is_documented_with_its_body_parameters_and_statuses(client):
    spec = (await client.get("/docs/openapi.json")).json()
    op = spec["paths"]["/api/v1/projects/{project_id}/donations"]["post"]
    assert op["operationId"] == "createDonation"
    assert op["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/DonationCreate"
    }
    assert {"201", "400", "401", "403", "404", "409", "413", "422"} <= set(op["responses"])
    params = {p["name"]: p for p in op.get("parameters", [])}
    assert params["project_id"]["in"] == "path" and params["project_id"]["schema"]["type"] == "integer"
    schema = spec["components"]["schemas"]["DonationCreate"]
    assert schema["additionalProperties"] is False


async def test_every_charity_operation_has_a_success_schema(client):
    spec = (await client.get("/docs/openapi.json")).json()
    charity = [
        (path, method, op)
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
        if "charity" in op.get("tags", [])
    ]
    assert len(charity) >= 17
    for path, method, op in charity:
        success = [code for code in op["responses"] if code.startswith("2")]
        assert success, f"{method} {path}"
        content = op["responses"][success[0]].get("content") or {}
        assert content, f"{method} {path} documents no success body"
