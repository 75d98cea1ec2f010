"""The demo bank's organisation: head office, branches and sub-branches, staff for every role."""

from __future__ import annotations

from postloan.org import services
from postloan.org.roles import ROLES

from .builder import DEMO_PASSWORD, DemoContext, step

BRANCHES = [
    # code, name, region, sub-branches
    ("BJ", "北京分行", "北京市", [("BJ01", "海淀支行"), ("BJ02", "朝阳支行")]),
    ("SH", "上海分行", "上海市", [("SH01", "浦东支行"), ("SH02", "徐汇支行")]),
    ("GZ", "广州分行", "广东省广州市", [("GZ01", "天河支行")]),
    ("CD", "成都分行", "四川省成都市", [("CD01", "高新支行")]),
    ("WH", "武汉分行", "湖北省武汉市", [("WH01", "江汉支行")]),
]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍红娥玲芬燕彬鹏辉丹宇浩凯健俊帆"

BRANCH_STAFF = ["credit_officer", "credit_officer", "credit_officer", "credit_head", "collector", "collector",
                "accountant", "custodian", "archivist"]


def person_name(rng) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice([1, 2])))


@step("organisation", order=10)
def build_organisation(ctx: DemoContext) -> None:
    rng = ctx.rng
    ho = services.create_branch(actor=None, code="HO", name="总行", level="head_office", region="北京市")
    users = []
    from django.contrib.auth.hashers import make_password

    shared_hash = make_password(DEMO_PASSWORD)

    def add(username, branch, role):
        users.append(services.create_user(actor=None, username=username, password=DEMO_PASSWORD, branch=branch,
                                          roles=[role], full_name=person_name(rng), password_hash=shared_hash))

    add("admin", ho, "admin")
    add("auditor", ho, "auditor")
    add("risk", ho, "credit_head")
    for code, name, region, subs in BRANCHES:
        branch = services.create_branch(actor=None, code=code, name=name, level="branch", parent=ho, region=region)
        counts: dict[str, int] = {}
        for role in BRANCH_STAFF:
            counts[role] = counts.get(role, 0) + 1
            add(f"{code.lower()}_{role}{counts[role]}", branch, role)
        for sub_code, sub_name in subs:
            sub = services.create_branch(actor=None, code=sub_code, name=sub_name, level="sub_branch", parent=branch,
                                         region=region)
            add(f"{sub_code.lower()}_credit_officer1", sub, "credit_officer")
    ctx.data["users"] = users
    assert set(ROLES) <= {r for u in users for r in u.groups.values_list("name", flat=True)}
