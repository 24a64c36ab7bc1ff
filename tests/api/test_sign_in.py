"""`POST /api/v1/sign-in` and `DELETE /api/v1/me/token`: a password for a personal API token, and its revocation.

What `capa login` and `capa logout` call; the sign-in is the web app's own, throttle included.
"""

from tests.api.flow import BASE, Api
from tests.stack import PASSWORD


async def test_sign_in_answers_a_token_acting_as_that_person(api: Api) -> None:
    """The right password answers 201 with a token that acts as the person and is listed among their tokens; the
    password is echoed nowhere."""
    signed = await api.http.post(BASE + "/sign-in", json={"name": "oscar", "password": PASSWORD, "label": "laptop"})
    assert signed.status_code == 201, signed.text
    body = signed.json()
    assert body["user"]["name"] == "oscar"
    assert PASSWORD not in signed.text
    me = await api.http.get(BASE + "/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.json()["name"] == "oscar"
    tokens = await api.get("ada", "/tokens", owner="oscar")
    assert any(token["label"] == "laptop" and token["created_by"] == "oscar" for token in tokens["items"])


async def test_wrong_passwords_are_401_then_429_with_retry_after(api: Api) -> None:
    """A wrong password is 401 and no token; after the free failures the name must wait: 429 with Retry-After."""
    answers = [
        await api.http.post(BASE + "/sign-in", json={"name": "paul", "password": "not-his-password"}) for _ in range(4)
    ]
    assert [answer.status_code for answer in answers[:3]] == [401, 401, 401]
    assert "token" not in answers[0].json()
    assert answers[3].status_code == 429
    assert int(answers[3].headers["Retry-After"]) > 0


async def test_a_deactivated_person_cannot_sign_in(api: Api) -> None:
    """A deactivated person's right password is refused like a wrong one."""
    await api.ok("ada", "POST", "/users/nina/deactivate")
    try:
        refused = await api.http.post(BASE + "/sign-in", json={"name": "nina", "password": PASSWORD})
        assert refused.status_code == 401
    finally:
        await api.ok("ada", "POST", "/users/nina/activate")


async def test_deleting_me_token_revokes_only_the_calling_token(api: Api) -> None:
    """`DELETE /me/token` revokes the token that calls it: 401 from then on; the person's other tokens still act."""
    signed = (await api.http.post(BASE + "/sign-in", json={"name": "mike", "password": PASSWORD})).json()
    bearer = {"Authorization": f"Bearer {signed['token']}"}
    revoked = await api.http.delete(BASE + "/me/token", headers=bearer)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] is not None
    assert (await api.http.get(BASE + "/me", headers=bearer)).status_code == 401
    assert (await api.get("mike", "/me"))["name"] == "mike"
