"""Steps every browser test takes: logging in and out through the real forms."""

from playwright.sync_api import expect

PASSWORD = "correct horse battery"  # the staff factory's default


def submit_login(page, username: str) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def log_out(page) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
