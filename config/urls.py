from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

from accounts.forms import SignInForm
from accounts.views import home, keep_session_alive, switch_clinic
from billing import views as billing_views
from billing.api import EVisitListApi, TimeEntryCreateApi
from inbox.api.views import OutboxApi, ReceiveMessageApi, ReplyDeliveredApi
from pipeline import views as pipeline_views
from routing.api.operations import OperationsApi
from routing.api.views import (
    ClaimWorkItemApi,
    CloseWorkItemApi,
    CorrectWorkItemApi,
    ReassignWorkItemApi,
    ReopenWorkItemApi,
    ReplyWorkItemApi,
    WorkItemListApi,
)
from workspace import operations_views
from workspace import views as work_views

api_v1 = [
    path("api/v1/messages", ReceiveMessageApi.as_view(), name="api-messages"),
    path("api/v1/outgoing-messages", OutboxApi.as_view(), name="api-outbox"),
    path(
        "api/v1/outgoing-messages/<int:reply_id>/delivered",
        ReplyDeliveredApi.as_view(),
        name="api-reply-delivered",
    ),
    path("api/v1/work-items", WorkItemListApi.as_view(), name="api-work-items"),
    *[
        path(f"api/v1/work-items/<int:item_id>/{action}", view.as_view(), name=f"api-work-{action}")
        for action, view in [
            ("claim", ClaimWorkItemApi),
            ("reply", ReplyWorkItemApi),
            ("close", CloseWorkItemApi),
            ("reopen", ReopenWorkItemApi),
            ("reassign", ReassignWorkItemApi),
            ("correct", CorrectWorkItemApi),
        ]
    ],
    path("api/v1/billing/evisits", EVisitListApi.as_view(), name="api-billing-evisits"),
    path("api/v1/operations", OperationsApi.as_view(), name="api-operations"),
    path(
        "api/v1/work-items/<int:item_id>/time",
        TimeEntryCreateApi.as_view(),
        name="api-work-item-time",
    ),
]

urlpatterns = [
    path("", home, name="home"),
    path("login/", auth_views.LoginView.as_view(authentication_form=SignInForm), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("clinic/", switch_clinic, name="switch-clinic"),
    path("session/keep-alive", keep_session_alive, name="session-keep-alive"),
    path("work/", work_views.work, name="work"),
    path("work/rows", work_views.work_rows, name="work-rows"),
    path("work/counts", work_views.work_counts, name="work-counts"),
    path("work/next", work_views.claim_next, name="work-claim-next"),
    path("work/after-action", work_views.set_after_action, name="work-after-action"),
    path("work/arrival-alert", work_views.arrival_alert, name="work-arrival-alert"),
    path("work/items/<int:item_id>/", work_views.work_item, name="work-item"),
    path(
        "work/items/<int:item_id>/<slug:action>",
        work_views.work_item_action,
        name="work-item-action",
    ),
    path("operations/", operations_views.dashboard, name="operations"),
    path("operations/export.csv", operations_views.export_csv, name="operations-export"),
    path("billing/", billing_views.evisit_list, name="billing"),
    path("billing/evisits/<int:evisit_id>/", billing_views.evisit_detail, name="billing-evisit"),
    path("billing/review", billing_views.review, name="billing-review"),
    path("billing/export", billing_views.export, name="billing-export"),
    path(
        "billing/exports/<int:export_id>",
        billing_views.export_download,
        name="billing-export-download",
    ),
    path("billing/revenue", billing_views.revenue, name="billing-revenue"),
    path("admin/", admin.site.urls),
    path("health/", pipeline_views.health_page, name="health"),
    path("health/live", pipeline_views.live, name="health-live"),
    path("health/ready", pipeline_views.ready, name="health-ready"),
    *api_v1,
]

# JSON under /api/ (never an HTML page to the portal), Django's pages elsewhere.
handler400 = "config.errors.bad_request"
handler403 = "config.errors.permission_denied"
handler404 = "config.errors.page_not_found"
handler500 = "config.errors.server_error"
