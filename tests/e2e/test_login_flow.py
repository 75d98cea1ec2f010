import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_officer_logs_in_sees_chinese_switches_to_english_and_logs_out(page, make_user, screenshot):
    make_user("credit_officer", "BJ", username="wangfang", full_name="王芳")

    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login/"))
    page.get_by_label("用户名").fill("wangfang")
    page.get_by_label("密码").fill("Correct-horse-42")
    page.get_by_role("button", name="登录").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("王芳")
    expect(page.get_by_test_id("business-date")).to_contain_text("营业日期")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    screenshot(page, "home-zh")

    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_test_id("business-date")).to_contain_text("Business date")
    screenshot(page, "home-en")

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login/"))
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login/"))


def test_locked_out_user_cannot_log_in(page, make_user, settings):
    make_user("credit_officer", "BJ", username="lockme")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        page.goto("/login/")
        page.get_by_label("用户名").fill("lockme")
        page.get_by_label("密码").fill("wrong-password")
        page.get_by_role("button", name="登录").click()
    page.goto("/login/")
    page.get_by_label("用户名").fill("lockme")
    page.get_by_label("密码").fill("Correct-horse-42")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_test_id("locked-out")).to_be_visible()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login/"))
