"""The admin index names every model in plain words: no plural made by tacking an "s" on
("Business hourss", "Sla policys", "Sla breachs", "Patient data accesss")."""

import re

import pytest
from django.contrib import admin

from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db

PLAIN = ["Business hours", "SLA policies", "SLA breaches", "Patient data access log"]
MISSPELLED = ["Business hourss", "Sla policys", "Sla breachs", "Patient data accesss"]


@pytest.fixture
def index(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = client.get("/admin/")
    assert response.status_code == 200
    return response


def test_the_admin_index_shows_the_plain_labels_and_none_of_the_misspelled(index):
    labels = [model["name"] for app in index.context["app_list"] for model in app["models"]]
    page = index.content.decode()

    for label in PLAIN:
        assert labels.count(label) == 1, label
        assert f">{label}<" in page, label
    for label in MISSPELLED:
        assert label.lower() not in page.lower(), label
        assert label.lower() not in (name.lower() for name in labels), label


def test_no_model_on_the_admin_index_has_an_s_tacked_onto_a_word_that_does_not_take_it():
    # Django's default plural is verbose_name + "s": wrong after s, x, ch, sh, or a
    # consonant + y. Any model registered later is checked too.
    wrong = re.compile(r"(s|x|ch|sh|[^aeiou]y)s$")
    for model in admin.site._registry:
        meta = model._meta
        if str(meta.verbose_name_plural) == f"{meta.verbose_name}s":
            assert not wrong.search(str(meta.verbose_name_plural)), meta.label
