from __future__ import annotations

from tests.conftest import error_code, login


async def test_login_with_dev_code_returns_token_and_me_shows_user(client):
    headers = await login(client, "alice")
    response = await client.get("/api/v1/me", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["roles"] == {"member": True, "platform_admin": False, "staff": [], "officer": []}
    assert body["phone"] is None


async def test_me_without_token_is_401(client):
    response = await client.get("/api/v1/me")
    assert response.status_code == 401
    assert error_code(response) == "auth.token_missing"
