"""Signing in to the API: tokens a user makes, lists and revokes (only a hash is stored), the session with CSRF
for the browser, and nothing for anonymous or inactive users."""

import datetime
import hashlib

import pytest
from django.utils import timezone

from bazhou.core.api.errors import NOT_AUTHENTICATED
from bazhou.core.models import ApiToken
from tests import factories
from tests.api.helpers import results

TOKENS = "/api/v1/tokens/"
VILLAGES = "/api/v1/villages/"


def test_anonymous_requests_get_401_with_a_chinese_message_and_the_token_scheme(api, area):
    response = api().get(VILLAGES)
    assert response.status_code == 401
    assert response.json() == {"detail": NOT_AUTHENTICATED, "code": "not_authenticated", "errors": {}}
    assert response["WWW-Authenticate"].startswith("Token")


def test_a_user_makes_a_token_sees_its_key_once_and_signs_in_with_it(api, personas):
    client = api(personas.township_a)
    made = client.post(TOKENS, {"name": "省扶贫开发信息系统对接"})
    assert made.status_code == 201
    key = made.json()["key"]
    assert key.startswith("bz_") and len(key) > 40
    stored = ApiToken.objects.get()
    # Only the digest is stored; the list never shows the key again.
    assert stored.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key not in str(ApiToken.objects.values_list())
    listed = client.get(TOKENS).json()
    assert [t["name"] for t in listed] == ["省扶贫开发信息系统对接"]
    assert "key" not in listed[0] and listed[0]["prefix"] == key[:10]

    program = api()
    program.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert program.get(VILLAGES).status_code == 200
    bearer = api()
    bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert bearer.get(VILLAGES).status_code == 200
    stored.refresh_from_db()
    assert stored.last_used_at is not None


def test_a_revoked_token_no_longer_signs_in_and_stays_listed_as_revoked(api, personas):
    client = api(personas.township_a)
    made = client.post(TOKENS, {"name": "统计局"}).json()
    program = api()
    program.credentials(HTTP_AUTHORIZATION=f"Token {made['key']}")
    assert program.get(VILLAGES).status_code == 200

    assert client.delete(f"{TOKENS}{made['id']}/").status_code == 204
    refused = program.get(VILLAGES)
    assert refused.status_code == 401
    assert refused.json()["detail"] == "令牌无效或已撤销。"
    assert client.get(TOKENS).json() == []
    assert client.get(TOKENS, {"all": "1"}).json()[0]["revoked_at"] is not None


def test_nobody_sees_or_revokes_another_users_tokens(api, personas):
    mine = api(personas.township_a).post(TOKENS, {"name": "白庙乡对接"}).json()
    other = api(personas.township_b)
    assert other.get(TOKENS).json() == []
    assert other.delete(f"{TOKENS}{mine['id']}/").status_code == 404
    assert ApiToken.objects.get(pk=mine["id"]).revoked_at is None


def test_a_token_needs_a_name_unique_among_the_users_active_tokens(api, personas):
    client = api(personas.village_cadre)
    assert client.post(TOKENS, {"name": "  "}).json()["errors"] == {"name": ["请填写令牌名称，说明用在哪里。"]}
    assert client.post(TOKENS, {"name": "手机填报"}).status_code == 201
    assert client.post(TOKENS, {"name": "手机填报"}).json()["errors"] == {
        "name": ["您已有同名的有效令牌，请换一个名称。"]
    }
    assert ApiToken.objects.count() == 1


@pytest.mark.parametrize("header", ["Token", "Token not-a-key", "Token bz_wrong", "Bearer a b"])
def test_a_malformed_or_unknown_token_is_401(api, area, header):
    client = api()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(VILLAGES)
    assert response.status_code == 401
    assert response.json()["detail"] in ("请求头 Authorization 格式应为：Token <令牌>。", "令牌无效或已撤销。")


def test_an_inactive_users_token_and_session_sign_nobody_in(api, personas):
    token_client = api(personas.township_a, token=True)
    session_client = api(personas.township_a)
    personas.township_a.is_active = False
    personas.township_a.save()
    assert token_client.get(VILLAGES).status_code == 401
    assert session_client.get(VILLAGES).status_code in (401, 403)


def test_the_session_keeps_the_csrf_check_on_writes_but_a_token_needs_none(api, personas, rows):
    browser = api(personas.township_a, csrf=True)
    refused = browser.post("/api/v1/plans/", {"village": rows.plan_a.village_id, "year": 2018}, format="json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    program = api(personas.township_a, token=True)
    program.handler.enforce_csrf_checks = True
    made = program.post("/api/v1/plans/", {"village": rows.plan_a.village_id, "year": 2018}, format="json")
    assert made.status_code == 201


def test_last_used_is_written_at_most_once_a_minute(api, personas, django_assert_num_queries):
    client = api(personas.supervisor, token=True)
    client.get(VILLAGES)
    token = ApiToken.objects.get()
    first = token.last_used_at
    client.get(VILLAGES)
    token.refresh_from_db()
    assert token.last_used_at == first
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now() - datetime.timedelta(minutes=5))
    client.get(VILLAGES)
    token.refresh_from_db()
    assert token.last_used_at > first


def test_a_token_reads_exactly_what_its_user_reads(api, personas, area):
    factories.village(area.township_b, name="寺岭乡另一村")
    by_token = {v["id"] for v in results(api(personas.township_a, token=True).get(VILLAGES))}
    by_session = {v["id"] for v in results(api(personas.township_a).get(VILLAGES))}
    assert by_token == by_session == {area.village_a.pk, area.village_a2.pk}


def test_the_token_list_makes_the_same_number_of_queries_for_ten_times_the_tokens(
    api, personas, django_assert_num_queries
):
    client = api(personas.township_a)
    # savepoint, session, user, the tokens, release.
    for n, total in ((1, 1), (9, 10)):
        for i in range(n):
            client.post(TOKENS, {"name": f"对接{total}-{i}"})
        with django_assert_num_queries(5):
            assert len(client.get(TOKENS).json()) == total


@pytest.mark.usefixtures("pinned_today")
def test_a_change_made_with_a_token_is_signed_with_the_tokens_user_in_the_history(api, personas, rows):
    program = api(personas.village_cadre, token=True)
    response = program.patch(f"/api/v1/tasks/{rows.task_a.pk}/", {"responsible_person": "秦和平"}, HTTP_IF_MATCH='"1"')
    assert response.status_code == 200
    assert rows.task_a.history.first().history_user == personas.village_cadre
