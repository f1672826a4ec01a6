"""Search through the bigram index: fragments, prefixes first, codes, totals, and writes kept in step."""

from __future__ import annotations

import pytest
from tortoise.transactions import in_transaction

from backend.accounts.models import User
from backend.registry import importer, imports, search, search_index
from backend.registry import service as registry_service
from backend.registry.models import Organization, OrganizationNameGram, OrganizationSearchName
from backend.registry.schemas import OrgSearch, OrgUpdate
from tests.factories import factory_cipher, make_authority, make_org
from tests.registry.fixtures_import import CN_HEADER, csv_bytes, make_code, row


async def names(**params) -> list[str]:
    return [item["name"] for item in (await search.find(OrgSearch(**params)))["items"]]


async def test_names_that_start_with_the_fragment_come_first(db):
    authority = await make_authority("440305")
    for name in ["南山区阳光志愿者协会", "深圳阳光基金会", "阳光社工服务中心", "阳光协会"]:
        await make_org(authority, name=name)
    assert await names(q="阳光") == ["阳光社工服务中心", "阳光协会", "南山区阳光志愿者协会", "深圳阳光基金会"]
    assert await names(q="阳") == ["阳光社工服务中心", "阳光协会", "南山区阳光志愿者协会", "深圳阳光基金会"]
    assert await names(q="光志愿") == ["南山区阳光志愿者协会"]
    assert await names(q="阳光协") == ["阳光协会"]
    assert await names(q="月光") == []


async def test_filters_narrow_a_fragment_search(db):
    nanshan, tianhe = await make_authority("440305"), await make_authority("440106")
    await make_org(nanshan, name="南山志愿者协会")
    await make_org(nanshan, name="南山志愿服务基金会", kind="foundation")
    await make_org(tianhe, name="天河志愿者协会", status="deregistered")
    assert await names(q="志愿", region="440300") == ["南山志愿者协会", "南山志愿服务基金会"]
    assert await names(q="志愿", region="440000", kind="foundation") == ["南山志愿服务基金会"]
    assert await names(q="志愿", status="deregistered") == ["天河志愿者协会"]
    assert await names(region="440106") == ["天河志愿者协会"]


async def test_names_and_queries_compare_normalized(db):
    authority = await make_authority("440305")
    await make_org(authority, name="深圳市ＩＴ 从业者协会（南山）")
    assert await names(q="it从业") == ["深圳市ＩＴ 从业者协会（南山）"]
    assert await names(q="协会(南山)") == ["深圳市ＩＴ 从业者协会（南山）"]


@pytest.mark.parametrize("query", ["%", "_", "%%", "__", "\\"])
async def test_like_wildcards_in_a_query_are_plain_characters(db, query):
    await make_org(await make_authority("440305"), name="普通协会")
    assert await names(q=query) == []


async def test_a_credit_code_prefix_finds_its_organizations(db):
    nanshan, shenzhen = await make_authority("440305"), await make_authority("440300")
    first = await make_org(nanshan, name="甲协会")
    await make_org(nanshan, name="乙协会")
    await make_org(shenzhen, name="丙协会")
    assert await names(q="51440305") == ["甲协会", "乙协会"]
    assert await names(q="514403") == ["丙协会", "甲协会", "乙协会"]  # in code order
    assert await names(q=first.credit_code.lower()) == ["甲协会"]


async def test_the_total_is_exact_when_the_page_sees_every_match(db):
    authority = await make_authority("440305")
    for i in range(7):
        await make_org(authority, name=f"书画协会{i}")
    first = await search.find(OrgSearch(q="书画", page_size=20))
    assert (first["total"], first["total_exact"], len(first["items"])) == (7, True, 7)
    paged = await search.find(OrgSearch(q="书画", page_size=3, page=3))
    assert paged["total"] == 7 and [i["name"] for i in paged["items"]] == ["书画协会6"]
    every = [
        i["name"]
        for p in (1, 2, 3)
        for i in (await search.find(OrgSearch(q="书画", page_size=3, page=p)))["items"]
    ]
    assert sorted(every) == [f"书画协会{i}" for i in range(7)]


async def test_a_rename_moves_the_name_in_the_index_with_the_write(db, cache):
    authority = await make_authority("440305")
    organization = await make_org(authority, name="旧名称书画协会")
    await registry_service.update_organization(
        actor=None,
        code=organization.credit_code,
        data=OrgUpdate(name="新名称摄影协会", reason="名称变更"),
        cache=cache,
    )
    assert await names(q="书画") == [] and await names(q="摄影") == ["新名称摄影协会"]
    # The index changes in the write's transaction: a write that fails leaves both as they were.
    with pytest.raises(RuntimeError):
        async with in_transaction():
            await Organization.filter(id=organization.id).update(name="第三个名字")
            await search_index.sync(organization_ids=[organization.id])
            raise RuntimeError("the write fails")
    assert await names(q="摄影") == ["新名称摄影协会"] and await names(q="第三") == []


async def test_an_import_indexes_the_names_it_creates_and_changes(db, cache):
    await make_authority("440000", name="广东省民政厅", level="province")
    code = make_code(region="440000")
    for name in ("广东省旧名协会", "广东省新名协会"):
        parsed = importer.parse_bytes(
            csv_bytes([CN_HEADER, row(code=code, name=name, authority="广东省民政厅")]), filename="a.csv"
        )
        result = await imports.apply_import(
            parsed=parsed, actor=None, apply=True, cipher=factory_cipher(), cache=cache
        )
        assert result.applied, result.report()
        assert await names(q=name[3:5]) == [name]
    assert await names(q="旧名") == []


async def test_migrate_indexes_organizations_the_index_does_not_know(db):
    authority = await make_authority("440305")
    await Organization.create(
        credit_code=make_code(region="440305"),
        name="升级前的协会",
        kind="association",
        authority=authority,
        region_code="440305",
    )
    assert await names(q="升级") == []
    assert await search_index.index_missing() == 1
    assert await names(q="升级") == ["升级前的协会"]
    assert await search_index.index_missing() == 0
    assert await OrganizationSearchName.all().count() == 1
    assert await OrganizationNameGram.all().count() == len(search_index.grams("升级前的协会"))


async def test_a_rename_through_the_api_shows_in_the_next_search(client, cache):
    from backend.accounts import service as accounts_service
    from tests.conftest import login

    authority = await make_authority("440305")
    organization = await make_org(authority, name="缓存前的协会")
    headers = await login(client, "search-officer")
    user = await User.get(id=(await client.get("/api/v1/me", headers=headers)).json()["id"])
    await accounts_service.grant_officer(user=user, authority=authority, actor=None)

    async def found(q: str) -> list[str]:
        return [i["name"] for i in (await client.get("/api/v1/orgs", params={"q": q})).json()["items"]]

    assert await found("协会") == ["缓存前的协会"]  # now cached
    response = await client.patch(
        f"/api/v1/orgs/{organization.credit_code}",
        json={"name": "缓存后的协会", "reason": "名称变更"},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    assert await found("协会") == ["缓存后的协会"]
