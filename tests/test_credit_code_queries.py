"""A credit code named in a query is 18 ASCII letters and digits, checked before any query runs.

Upper-casing other text can lengthen it (ß -> SS): an 18-character value of 19 characters once
upper-cased reached the database column and came back as a 422 the OpenAPI document did not promise
(schemathesis found it on PostgreSQL).
"""

from __future__ import annotations

import pytest

from tests.conftest import error_code

NOT_A_CODE = "ß" * 18  # 18 characters, 36 once upper-cased


@pytest.mark.parametrize("path", ["/api/v1/postings", "/api/v1/projects"])
async def test_a_non_ascii_credit_code_in_a_query_is_refused_by_the_schema(client, path):
    refused = await client.get(path, params={"org": NOT_A_CODE})
    assert (refused.status_code, error_code(refused)) == (422, "validation_error"), refused.text
    fine = await client.get(path, params={"org": "51440300mjl0000103"})  # any case, as services upper it
    assert fine.status_code == 200, fine.text
